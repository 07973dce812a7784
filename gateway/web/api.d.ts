/** Types of api.js for the unit tests of modules that use it (the page itself is plain JavaScript). */
export class ApiError extends Error {
  constructor(status: number, body: unknown);
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly requestId: string | undefined;
  readonly text: string;
}
export class Api {
  onSignedOut: (message: string) => void;
  readonly signedIn: boolean;
  readonly accessToken: string | undefined;
  readonly accessTokenSecondsLeft: number;
  signUp(user: { email: string; password: string; name: string; role: 'BUYER' | 'SELLER'; phone?: string }): Promise<unknown>;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  refresh(): Promise<boolean>;
  get(path: string): Promise<unknown>;
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<unknown>;
  put(path: string, body: unknown): Promise<unknown>;
}
