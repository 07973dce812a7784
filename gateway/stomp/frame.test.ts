import test from 'ava';
import { FrameParser, HEARTBEAT, StompParseError, serializeFrame, type StompFrame } from './frame.ts';

const plain = (f: StompFrame) => ({ command: f.command, headers: { ...f.headers }, body: f.body.toString('utf8') });
const parseAll = (input: string | Buffer, maxFrameBytes?: number) => new FrameParser({ maxFrameBytes }).push(input).map(plain);

test('serializes command, headers, content-length and NUL', (t) => {
  const bytes = serializeFrame({ command: 'SEND', headers: { destination: '/app/x', 'content-type': 'text/plain' }, body: 'héllo' });
  t.is(bytes.toString('utf8'), 'SEND\ndestination:/app/x\ncontent-type:text/plain\ncontent-length:6\n\nhéllo\0');
});

test('a frame without a body has no content-length', (t) => {
  t.is(serializeFrame({ command: 'RECEIPT', headers: { 'receipt-id': '7' } }).toString(), 'RECEIPT\nreceipt-id:7\n\n\0');
});

test('a caller-supplied content-length is replaced by the real byte length', (t) => {
  const bytes = serializeFrame({ command: 'MESSAGE', headers: { 'content-length': '1' }, body: 'abc' });
  t.is(bytes.toString(), 'MESSAGE\ncontent-length:3\n\nabc\0');
});

test('header names and values are escaped per 1.2, and parse back to the original', (t) => {
  const value = 'a:b\\c\nd\re';
  const bytes = serializeFrame({ command: 'MESSAGE', headers: { 'we:ird': value } });
  t.is(bytes.toString(), 'MESSAGE\nwe\\cird:a\\cb\\\\c\\nd\\re\n\n\0');
  t.deepEqual(parseAll(bytes), [{ command: 'MESSAGE', headers: { 'we:ird': value }, body: '' }]);
});

test('CONNECT and CONNECTED headers are neither escaped nor unescaped', (t) => {
  t.is(serializeFrame({ command: 'CONNECTED', headers: { server: 'a:b\\c' } }).toString(), 'CONNECTED\nserver:a:b\\c\n\n\0');
  t.deepEqual(parseAll('CONNECT\nlogin:us\\er\npasscode:x:y\\n\n\n\0'), [
    { command: 'CONNECT', headers: { login: 'us\\er', passcode: 'x:y\\n' }, body: '' },
  ]);
  t.throws(() => serializeFrame({ command: 'CONNECT', headers: { login: 'a\nb' } }), { instanceOf: TypeError, message: /cannot be sent unescaped/ });
  t.throws(() => serializeFrame({ command: 'CONNECT', headers: { 'a:b': 'x' } }), { instanceOf: TypeError });
});

test('an undefined escape or a trailing backslash is a parse error naming the header', (t) => {
  t.throws(() => parseAll('SEND\ndestination:/a\\tb\n\n\0'), { instanceOf: StompParseError, message: /header "destination" contains the undefined escape \\t/ });
  t.throws(() => parseAll('SEND\ndestination:/a\\\n\n\0'), { instanceOf: StompParseError, message: /trailing backslash/ });
});

test('repeated headers: the first wins', (t) => {
  t.deepEqual(parseAll('MESSAGE\nfoo:first\nfoo:second\n\n\0')[0]!.headers, { foo: 'first' });
});

test('a value may contain a literal colon: only the first one separates', (t) => {
  t.deepEqual(parseAll('SEND\ndestination:/a:b\n\n\0')[0]!.headers, { destination: '/a:b' });
});

test('content-length bodies may contain NUL', (t) => {
  const body = Buffer.from([1, 0, 2, 0, 0, 3]);
  const frames = new FrameParser().push(serializeFrame({ command: 'SEND', headers: { destination: '/d' }, body }));
  t.is(frames.length, 1);
  t.deepEqual(frames[0]!.body, body);
});

test('without content-length the body ends at the first NUL', (t) => {
  t.deepEqual(parseAll('SEND\ndestination:/d\n\nab\0SEND\ndestination:/e\n\ncd\0').map((f) => [f.headers.destination, f.body]), [
    ['/d', 'ab'],
    ['/e', 'cd'],
  ]);
});

test('several frames in one chunk, with heart-beat EOLs (LF and CRLF) between and around them', (t) => {
  const input = '\n\r\nSEND\ndestination:/a\n\none\0\n\n\r\nSUBSCRIBE\nid:1\ndestination:/b\n\n\0\r\n\n';
  t.deepEqual(parseAll(input).map((f) => f.command), ['SEND', 'SUBSCRIBE']);
});

test('CRLF line endings are accepted in the command and header lines', (t) => {
  t.deepEqual(parseAll('SEND\r\ndestination:/a\r\nx:y\r\n\r\nbody\0'), [{ command: 'SEND', headers: { destination: '/a', x: 'y' }, body: 'body' }]);
});

test('frames split at every byte boundary parse the same as whole', (t) => {
  const frames = [
    serializeFrame({ command: 'SEND', headers: { destination: '/a', k: 'v:\n' }, body: Buffer.from([0, 1, 0]) }),
    Buffer.from('\r\n\n'),
    Buffer.from('MESSAGE\r\nsubscription:s\r\n\r\nno length\0'),
    HEARTBEAT,
    serializeFrame({ command: 'DISCONNECT', headers: { receipt: '9' } }),
  ];
  const whole = Buffer.concat(frames);
  const expected = new FrameParser().push(whole).map(plain);
  t.is(expected.length, 3);
  for (let size = 1; size <= 7; size++) {
    const parser = new FrameParser();
    const got: StompFrame[] = [];
    for (let i = 0; i < whole.length; i += size) got.push(...parser.push(whole.subarray(i, i + size)));
    t.deepEqual(got.map(plain), expected, `chunks of ${size} bytes`);
    t.is(parser.bufferedBytes, 0);
  }
});

test('a partial frame yields nothing until it completes', (t) => {
  const parser = new FrameParser();
  t.deepEqual(parser.push('SEND\ndestination:/a\ncontent-length:5\n\nab\0'), []);
  t.deepEqual(parser.push('c'), []);
  t.deepEqual(parser.push('d\0').map(plain), [{ command: 'SEND', headers: { destination: '/a', 'content-length': '5' }, body: 'ab\0cd' }]);
});

test('a frame larger than the maximum fails, whether declared, buffered headers or buffered body', (t) => {
  const max = 64;
  t.notThrows(() => parseAll(Buffer.concat([Buffer.from('SEND\n\n'), Buffer.alloc(max - 7, 'x'), Buffer.from([0])]), max));
  t.throws(() => parseAll(Buffer.concat([Buffer.from('SEND\n\n'), Buffer.alloc(max - 6, 'x'), Buffer.from([0])]), max), {
    instanceOf: StompParseError,
    message: 'SEND frame exceeds the maximum frame size of 64 bytes',
  });
  // Declared too long: fails before the body arrives.
  t.throws(() => new FrameParser({ maxFrameBytes: max }).push('SEND\ncontent-length:100\n\n'), { message: /exceeds the maximum frame size/ });
  // Headers that never end, and a NUL-less body that never ends, fail once past the limit.
  const headers = new FrameParser({ maxFrameBytes: max });
  t.throws(() => { for (let i = 0; i < 100; i++) headers.push('x'); }, { message: 'frame exceeds the maximum frame size of 64 bytes' });
  const body = new FrameParser({ maxFrameBytes: max });
  body.push('SEND\n\n');
  t.throws(() => { for (let i = 0; i < 100; i++) body.push('y'); }, { message: /SEND frame exceeds/ });
});

test('parse errors name what is wrong', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['SEND\nno-colon\n\n\0', /^SEND frame: header line "no-colon" has no colon$/],
    ['SEND\n:empty\n\n\0', /header line ":empty" has an empty name/],
    ['SE ND\n\n\0', /invalid command line "SE ND"/],
    ['SEND\ncontent-length:abc\n\n\0', /content-length "abc" is not a non-negative integer/],
    ['SEND\ncontent-length:-1\n\n\0', /content-length "-1"/],
    ['SEND\ncontent-length:2\n\nabc\0', /2-byte body \(content-length\) is not followed by NUL/],
  ];
  for (const [input, message] of cases) t.throws(() => parseAll(input), { instanceOf: StompParseError, message }, JSON.stringify(input));
  t.throws(() => new FrameParser().push(Buffer.from([0x53, 0xff, 0x0a, 0x0a, 0x00])), { message: /not valid UTF-8/ });
});

test('after a parse error the parser keeps failing with the same error', (t) => {
  const parser = new FrameParser();
  const first = t.throws(() => parser.push('BAD LINE\n\n\0'));
  t.is(t.throws(() => parser.push('SEND\n\n\0')), first);
});

test('header names such as __proto__ are plain headers', (t) => {
  const [frame] = parseAll('SEND\n__proto__:x\nconstructor:y\n\n\0');
  t.deepEqual(Object.entries(frame!.headers), [['__proto__', 'x'], ['constructor', 'y']]);
  t.is(Object.getPrototypeOf(new FrameParser().push('SEND\n\n\0')[0]!.headers), null);
});
