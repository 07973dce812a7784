/**
 * STOMP 1.2 frame codec: serialization and a streaming parser.
 *
 * Frames may arrive split across chunks or several to a chunk, with heart-beat EOLs between
 * them; bodies are bytes (a `content-length` body may hold NUL). The parser has no notion of
 * which commands are valid — that is the server's business.
 */

export interface StompFrame {
  readonly command: string;
  /** Decoded header values; of repeated headers the first wins (STOMP 1.2). Null prototype. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface OutgoingFrame {
  readonly command: string;
  readonly headers?: Readonly<Record<string, string | number>>;
  readonly body?: string | Uint8Array;
}

export interface FrameParserOptions {
  /** Bytes from the command's first byte to the terminating NUL, inclusive. Default 64 KiB. */
  readonly maxFrameBytes?: number;
}

/** The byte stream is not valid STOMP; the parser is unusable after one (the connection must close). */
export class StompParseError extends Error {
  override readonly name = 'StompParseError';
}

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

/**
 * Serializes a frame. `content-length` is computed here whenever there is a body (a caller's
 * value is dropped: a wrong one would desynchronize the peer's parser).
 */
export function serializeFrame(frame: OutgoingFrame): Buffer {
  const body = frame.body === undefined ? EMPTY : typeof frame.body === 'string' ? Buffer.from(frame.body, 'utf8') : frame.body;
  const raw = RAW_HEADER_COMMANDS.has(frame.command);
  if (!COMMAND.test(frame.command)) throw new TypeError(`invalid STOMP command ${JSON.stringify(frame.command)}`);
  let head = frame.command + '\n';
  for (const [name, value] of Object.entries(frame.headers ?? {})) {
    if (name === 'content-length') continue;
    head += `${encodeHeader(name, raw, frame.command, 'name')}:${encodeHeader(String(value), raw, frame.command, 'value')}\n`;
  }
  if (body.length > 0) head += `content-length:${body.length}\n`;
  head += '\n';
  const headBytes = Buffer.from(head, 'utf8');
  return Buffer.concat([headBytes, body, NUL_BYTE], headBytes.length + body.length + 1);
}

/** Heart-beat: a single EOL between frames. */
export const HEARTBEAT = Buffer.from('\n');

/**
 * Streaming parser: `push` bytes as they arrive and get back every frame they complete.
 * Memory is bounded by `maxFrameBytes`: a partial frame growing past it fails at once.
 */
export class FrameParser {
  readonly #max: number;
  readonly #buffer = new ByteQueue();
  #failure: StompParseError | undefined;
  /** Where the search for the end of the headers (or of a NUL-terminated body) resumes. */
  #scanFrom = 0;
  #pending: (FrameHead & { readonly bodyStart: number }) | undefined;

  constructor(options: FrameParserOptions = {}) {
    this.#max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(this.#max) || this.#max < 2) throw new RangeError(`maxFrameBytes must be an integer ≥ 2, got ${this.#max}`);
  }

  /** Bytes held for a frame not yet complete (for tests and diagnostics). */
  get bufferedBytes(): number {
    return this.#buffer.length;
  }

  /** Throws StompParseError on malformed input, and again on every later call. */
  push(chunk: Uint8Array | string): StompFrame[] {
    if (this.#failure) throw this.#failure;
    this.#buffer.append(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    const frames: StompFrame[] = [];
    try {
      for (;;) {
        const frame = this.#next();
        if (!frame) break;
        frames.push(frame);
      }
    } catch (e) {
      if (e instanceof StompParseError) this.#failure = e;
      throw e;
    }
    return frames;
  }

  #next(): StompFrame | undefined {
    const buf = this.#buffer;
    if (!this.#pending) {
      this.#skipHeartbeats();
      if (buf.length === 0) return undefined;
      const view = buf.view();
      const end = findHeadersEnd(view, this.#scanFrom);
      if (end === undefined) {
        // Resume just before the tail: the blank line may straddle chunks.
        this.#scanFrom = Math.max(0, view.length - 2);
        this.#checkSize(view.length);
        return undefined;
      }
      this.#checkSize(end.bodyStart);
      this.#pending = { ...parseHead(view.subarray(0, end.headEnd)), bodyStart: end.bodyStart };
      this.#scanFrom = end.bodyStart;
      const length = this.#pending.contentLength;
      if (length !== undefined) this.#checkSize(end.bodyStart + length + 1, this.#pending.command);
    }
    const p = this.#pending;
    const view = buf.view();
    let bodyEnd: number;
    if (p.contentLength !== undefined) {
      bodyEnd = p.bodyStart + p.contentLength;
      if (view.length <= bodyEnd) return undefined;
      if (view[bodyEnd] !== NUL) {
        throw new StompParseError(`${p.command} frame: the ${p.contentLength}-byte body (content-length) is not followed by NUL`);
      }
    } else {
      const nul = view.indexOf(NUL, this.#scanFrom);
      if (nul === -1) {
        this.#scanFrom = view.length;
        this.#checkSize(view.length, p.command);
        return undefined;
      }
      bodyEnd = nul;
    }
    this.#checkSize(bodyEnd + 1, p.command);
    const body = Buffer.from(view.subarray(p.bodyStart, bodyEnd));
    buf.consume(bodyEnd + 1);
    this.#pending = undefined;
    this.#scanFrom = 0;
    return { command: p.command, headers: p.headers, body };
  }

  #skipHeartbeats(): void {
    const buf = this.#buffer;
    for (;;) {
      const view = buf.view();
      if (view[0] === LF) buf.consume(1);
      else if (view[0] === CR && view[1] === LF) buf.consume(2);
      else if (view[0] === CR && view.length === 1) return; // maybe the first half of \r\n
      else return;
    }
  }

  #checkSize(frameBytes: number, command?: string): void {
    if (frameBytes > this.#max) {
      const what = command ? `${command} frame` : 'frame';
      throw new StompParseError(`${what} exceeds the maximum frame size of ${this.#max} bytes`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const EMPTY = Buffer.alloc(0);
const NUL_BYTE = Buffer.from([NUL]);
const COMMAND = /^[A-Za-z]+$/;
/** 1.2 keeps these two unescaped for compatibility with 1.0. */
const RAW_HEADER_COMMANDS: ReadonlySet<string> = new Set(['CONNECT', 'CONNECTED']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function encodeHeader(text: string, raw: boolean, command: string, part: 'name' | 'value'): string {
  if (!raw) return text.replace(/[\\\r\n:]/g, (c) => ESCAPES[c]!);
  // Unescaped, a CR/LF would end the line and a colon in a name would split it elsewhere.
  if (part === 'name' ? /[\r\n:]/.test(text) : /[\r\n]/.test(text)) {
    throw new TypeError(`${command} header ${part} ${JSON.stringify(text)} cannot be sent unescaped`);
  }
  return text;
}

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\r': '\\r', '\n': '\\n', ':': '\\c' };
const UNESCAPES: Readonly<Record<string, string>> = { '\\': '\\', r: '\r', n: '\n', c: ':' };

function decodeHeader(text: string, command: string, what: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\(.?)/gs, (_, c: string) => {
    const decoded = UNESCAPES[c];
    if (decoded === undefined) {
      const seq = c === '' ? 'a trailing backslash' : `the undefined escape \\${c}`;
      throw new StompParseError(`${command} frame: header ${what} contains ${seq}`);
    }
    return decoded;
  });
}

/** Index of the blank line ending the headers: headEnd is where it starts, bodyStart after it. */
function findHeadersEnd(view: Uint8Array, from: number): { headEnd: number; bodyStart: number } | undefined {
  for (let i = view.indexOf(LF, from); i !== -1; i = view.indexOf(LF, i + 1)) {
    if (view[i + 1] === LF) return { headEnd: i, bodyStart: i + 2 };
    if (view[i + 1] === CR && view[i + 2] === LF) return { headEnd: i, bodyStart: i + 3 };
  }
  return undefined;
}

interface FrameHead {
  readonly command: string;
  readonly headers: Record<string, string>;
  readonly contentLength: number | undefined;
}

function parseHead(bytes: Uint8Array): FrameHead {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new StompParseError('frame command and headers are not valid UTF-8');
  }
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const command = lines[0]!;
  if (!COMMAND.test(command)) throw new StompParseError(`invalid command line ${JSON.stringify(command.slice(0, 40))}`);
  const raw = RAW_HEADER_COMMANDS.has(command);
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) {
      const problem = colon === 0 ? 'has an empty name' : 'has no colon';
      throw new StompParseError(`${command} frame: header line ${JSON.stringify(line.slice(0, 60))} ${problem}`);
    }
    const rawName = line.slice(0, colon);
    const name = raw ? rawName : decodeHeader(rawName, command, `name ${JSON.stringify(rawName)}`);
    // Values may carry a literal colon (1.0 habits); only the first one separates.
    const value = raw ? line.slice(colon + 1) : decodeHeader(line.slice(colon + 1), command, JSON.stringify(name));
    if (!(name in headers)) headers[name] = value;
  }
  let contentLength: number | undefined;
  const declared = headers['content-length'];
  if (declared !== undefined) {
    if (!/^\d{1,15}$/.test(declared)) throw new StompParseError(`${command} frame: content-length ${JSON.stringify(declared)} is not a non-negative integer`);
    contentLength = Number(declared);
  }
  return { command, headers, contentLength };
}

/** A growable byte buffer consumed from the front; amortized O(1) per byte appended. */
class ByteQueue {
  #data = Buffer.alloc(0);
  #start = 0;
  #end = 0;

  get length(): number {
    return this.#end - this.#start;
  }

  view(): Buffer {
    return this.#data.subarray(this.#start, this.#end);
  }

  append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#end + chunk.length > this.#data.length) {
      const needed = this.length + chunk.length;
      const next = needed <= this.#data.length / 2 ? this.#data : Buffer.allocUnsafe(Math.max(needed * 2, 256));
      this.#data.copy(next, 0, this.#start, this.#end);
      this.#end = this.length;
      this.#start = 0;
      this.#data = next;
    }
    this.#data.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
      // Drop a big buffer once idle so one large frame does not pin memory for the connection's life.
      if (this.#data.length > 64 * 1024) this.#data = Buffer.alloc(0);
    }
  }
}
