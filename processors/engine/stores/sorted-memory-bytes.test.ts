import test from 'ava';
import { SortedMemoryBytesStore } from './sorted-memory-bytes.ts';

/** The store against a plain model under random puts, deletes, gets and range scans. */
test('behaves as a sorted map by unsigned byte order, with range scans interleaved with writes', (t) => {
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  // Short keys of bytes across the whole range (0x00 … 0xff), so that order and prefixes matter.
  const keyOf = () => Buffer.from(Array.from({ length: 1 + rand(3) }, () => [0x00, 0x01, 0x7f, 0x80, 0xc3, 0xff][rand(6)]!));
  const store = new SortedMemoryBytesStore();
  const model = new Map<string, Buffer>();
  const sorted = () => [...model].map(([k, v]) => [Buffer.from(k, 'hex'), v] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
  for (let step = 0; step < 4000; step++) {
    const key = keyOf();
    const op = rand(10);
    if (op < 5) {
      const value = Buffer.from([step & 0xff]);
      store.put(key, value);
      model.set(key.toString('hex'), value);
    } else if (op < 7) {
      store.delete(key);
      model.delete(key.toString('hex'));
    } else if (op < 8) {
      t.deepEqual(store.get(key), model.get(key.toString('hex')));
    } else {
      const [a, b] = [keyOf(), keyOf()].sort(Buffer.compare);
      const want = sorted().filter(([k]) => Buffer.compare(k, a!) >= 0 && Buffer.compare(k, b!) <= 0);
      t.deepEqual([...store.range(a, b)], want.map(([k, v]) => [k, v]), `range ${a!.toString('hex')}..${b!.toString('hex')} at step ${step}`);
    }
    if (step % 500 === 0) t.deepEqual([...store.range()], sorted().map(([k, v]) => [k, v]));
  }
  t.is(store.size(), model.size);
});

test('a new key is copied: changing the caller\'s buffer afterwards changes nothing stored', (t) => {
  const store = new SortedMemoryBytesStore();
  const key = Buffer.from('abc');
  store.put(key, Buffer.from('1'));
  key[0] = 0x7a;
  t.deepEqual(store.get(Buffer.from('abc')), Buffer.from('1'));
  t.deepEqual([...store.range()].map(([k]) => k.toString()), ['abc']);
});

test('clear empties the store and its order; later writes and scans start afresh', (t) => {
  const store = new SortedMemoryBytesStore();
  for (const k of ['b', 'a', 'c']) store.put(Buffer.from(k), Buffer.from(k));
  t.deepEqual([...store.range()].map(([k]) => k.toString()), ['a', 'b', 'c']);
  store.clear();
  t.is(store.size(), 0);
  store.put(Buffer.from('z'), Buffer.from('z'));
  t.deepEqual([...store.range(Buffer.from('a'))].map(([k]) => k.toString()), ['z']);
});
