/**
 * The gateway's one error root. Every 4xx/5xx leaves as `{ error: { code, message, field?,
 * requestId } }` (http/errors.ts renders it); `retriable` says whether the same request may
 * succeed later, as the transports' errors do, and 429/503 carry Retry-After.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The request field at fault, as a path (`lines[1].quantity`). */
  readonly field: string | undefined;
  /** Seconds until a retry may succeed (429, 503). */
  readonly retryAfterSeconds: number | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, options: { field?: string; retryAfterSeconds?: number; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.headers = options.headers ?? {};
  }

  get retriable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

export const badRequest = (message: string, field?: string) => new ApiError(400, 'BAD_REQUEST', field ? `${field}: ${message}` : message, field ? { field } : {});
export const unauthorized = (message: string) => new ApiError(401, 'UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': 'Bearer' } });
export const forbidden = (message: string) => new ApiError(403, 'FORBIDDEN', message);
/** Also for what exists but the caller may not see: a 404 never confirms that an id exists. */
export const notFound = (what: string) => new ApiError(404, 'NOT_FOUND', `${what} not found`);
export const conflict = (message: string, field?: string) => new ApiError(409, 'CONFLICT', message, field ? { field } : {});
export const unprocessable = (message: string, field?: string) => new ApiError(422, 'UNPROCESSABLE', field ? `${field}: ${message}` : message, field ? { field } : {});
export const tooManyRequests = (message: string, retryAfterSeconds: number) => new ApiError(429, 'TOO_MANY_REQUESTS', message, { retryAfterSeconds });
export const unavailable = (code: string, message: string, retryAfterSeconds: number, cause?: unknown) =>
  new ApiError(503, code, message, { retryAfterSeconds, ...(cause === undefined ? {} : { cause }) });
