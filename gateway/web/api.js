/* global fetch, sessionStorage, atob */
/**
 * The gateway's HTTP API as the page uses it: JSON in and out, the tokens kept in sessionStorage
 * (one tab's login, gone when the tab closes), and one refresh of the access token on a 401.
 * Refresh tokens rotate (each works once), so concurrent 401s share a single refresh.
 */

const STORAGE_KEY = 'orderstream.tokens';

/** An error answer of the API: `message` is what the page shows, `field` which input it is about. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error;
    super(e?.message ?? `the server answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = e?.code ?? 'HTTP_' + status;
    this.field = e?.field;
    this.requestId = e?.requestId;
  }

  /** "field: message" when the API named a field, so the reader knows which input is wrong. */
  get text() {
    return this.field ? `${this.field}: ${this.message}` : this.message;
  }
}

export class Api {
  #tokens = load();
  #refreshing;
  /** Called when the login is gone for good (refresh failed): the page shows sign-in again. */
  onSignedOut = () => {};

  get signedIn() {
    return this.#tokens !== undefined;
  }

  get accessToken() {
    return this.#tokens?.accessToken;
  }

  /** Seconds until the access token expires (from its own `exp`), or 0 when there is none. */
  get accessTokenSecondsLeft() {
    const exp = expiryOf(this.#tokens?.accessToken);
    return exp === undefined ? 0 : exp - Date.now() / 1000;
  }

  async signUp({ email, password, name, role, phone }) {
    return this.#call('POST', '/auth/signup', { email, password, name, role, ...(phone ? { phone } : {}) }, { auth: false });
  }

  async signIn(email, password) {
    this.#store(await this.#call('POST', '/auth/login', { email, password }, { auth: false }));
  }

  async signOut() {
    const refreshToken = this.#tokens?.refreshToken;
    this.#store(undefined);
    if (refreshToken) await this.#call('POST', '/auth/logout', { refreshToken }, { auth: false }).catch(() => undefined);
  }

  /** Rotates the tokens; one refresh at a time however many callers ask. Resolves false when the login is gone. */
  refresh() {
    this.#refreshing ??= this.#refresh().finally(() => { this.#refreshing = undefined; });
    return this.#refreshing;
  }

  get(path) { return this.#call('GET', path); }
  post(path, body, headers) { return this.#call('POST', path, body ?? {}, { headers }); }
  put(path, body) { return this.#call('PUT', path, body); }

  async #refresh() {
    const refreshToken = this.#tokens?.refreshToken;
    if (!refreshToken) return false;
    try {
      this.#store(await this.#call('POST', '/auth/refresh', { refreshToken }, { auth: false }));
      return true;
    } catch (e) {
      // Only a refused token ends the login; a network error may pass.
      if (e instanceof ApiError && e.status === 401) {
        this.#store(undefined);
        this.onSignedOut('Your session has ended; please sign in again.');
      }
      return false;
    }
  }

  async #call(method, path, body, { auth = true, headers = {}, retried = false } = {}) {
    const sentToken = auth ? this.#tokens?.accessToken : undefined;
    const res = await fetch(path, {
      method,
      headers: {
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(sentToken ? { authorization: `Bearer ${sentToken}` } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (res.status === 401 && sentToken && !retried) {
      // Someone else may have refreshed while this request was out: use their token.
      const renewed = this.#tokens?.accessToken !== sentToken || await this.refresh();
      if (renewed && this.#tokens) return this.#call(method, path, body, { auth, headers, retried: true });
    }
    const text = await res.text();
    let parsed;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
    if (!res.ok) throw new ApiError(res.status, parsed);
    return parsed;
  }

  #store(tokens) {
    this.#tokens = tokens ? { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken } : undefined;
    if (this.#tokens) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.#tokens));
    else sessionStorage.removeItem(STORAGE_KEY);
  }
}

function load() {
  try {
    const t = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    return typeof t?.accessToken === 'string' && typeof t?.refreshToken === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}

/** The `exp` claim of a JWT, read without verifying (the server verifies; this only schedules a refresh). */
function expiryOf(jwt) {
  try {
    const payload = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = JSON.parse(atob(payload)).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}
