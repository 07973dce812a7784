/**
 * The embedded store's index keys must sort, byte by byte, as the in-process comparator (MongoDB's
 * order) sorts values: otherwise an index scan and an in-memory sort would disagree on a page.
 */
import test from 'ava';
import { compareValues, matches, sortValue } from '../../persistence/internal/filter.ts';
import { encodeComponent, encodeComponents, indexTuples, prefixEnd } from '../../persistence/internal/keys.ts';

const values: unknown[] = [
  null, -Infinity, -1e300, -2.5, -1, -0, 0, 1e-300, 1, 2, 2.5, 1e15, 2 ** 53, Infinity, Number.NaN,
  '', '\u0000', '\u0000a', 'a', 'a\u0000', 'a\u0000b', 'aa', 'ab', 'b', 'Z', 'é', '\uffff', '😀', '\ud7ff',
  false, true, { a: 1 }, [1, 2],
];

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

test('component keys order as compareValues does', (t) => {
  for (const a of values) {
    for (const b of values) {
      const bytes = sign(Buffer.compare(encodeComponent(a), encodeComponent(b)));
      t.is(bytes, sign(compareValues(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
});

test('tuples order component by component, and prefixEnd bounds a prefix', (t) => {
  const tuples = [['a', 1, 'id1'], ['a', 1, 'id2'], ['a', 2, ''], ['a\u0000', 0, 'x'], ['ab', null, 'x'], ['b', -1, 'x']];
  const sorted = [...tuples].sort((x, y) => Buffer.compare(encodeComponents(x), encodeComponents(y)));
  t.deepEqual(sorted, tuples);
  const prefix = encodeComponents(['a']);
  for (const tuple of tuples) {
    const key = encodeComponents(tuple);
    const inside = Buffer.compare(key, prefix) >= 0 && Buffer.compare(key, prefixEnd(prefix)) < 0;
    t.is(inside, tuple[0] === 'a', JSON.stringify(tuple));
  }
});

test('index tuples: one per array element, missing as null, parallel arrays refused', (t) => {
  t.deepEqual(indexTuples({ s: ['x', 'y', 'x'], at: 5 }, ['s', 'at'], 'c'), [['x', 5], ['y', 5]]);
  t.deepEqual(indexTuples({ s: [] }, ['s', 'at'], 'c'), [[null, null]]);
  t.throws(() => indexTuples({ a: [1, 2], b: [3, 4] }, ['a', 'b'], 'c'), { message: /parallel arrays/ });
});

test('an array sorts by its least element ascending and its greatest descending', (t) => {
  t.is(sortValue({ v: [3, 1, 2] }, { field: 'v', direction: 'asc' }), 1);
  t.is(sortValue({ v: [3, 1, 2] }, { field: 'v', direction: 'desc' }), 3);
  t.is(sortValue({}, { field: 'v', direction: 'asc' }), null);
});

test('matching: ranges stay within a type, operators on an array hold element by element', (t) => {
  t.false(matches({ v: 'a' }, { v: { $gt: 1 } }));
  t.false(matches({}, { v: { $lt: 1 } }));
  t.true(matches({}, { v: { $lte: null } }));
  t.true(matches({ v: [1, 9] }, { v: { $gt: 5, $lt: 3 } }));
  t.false(matches({ v: [1, 9] }, { v: { $ne: 9 } }));
  t.true(matches({ v: { a: 1, b: 2 } }, { v: { a: 1, b: 2 } }));
  t.false(matches({ v: { a: 1, b: 2 } }, { v: { b: 2, a: 1 } }), 'embedded documents compare in field order, as BSON');
});
