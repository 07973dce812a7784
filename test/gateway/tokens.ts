/**
 * Bearer tokens for authorization tests: well-formed ones signed like the gateway's (so a test
 * can show that a defect, not the test's own signing, is what gets a token refused) and the
 * defective variants an attacker would try. Pure functions of a secret and claims.
 */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface AccessClaims {
  readonly userId: string;
  readonly role: 'BUYER' | 'SELLER';
}

export interface SigningOptions {
  readonly secret: string;
  /** Default `orderstream`, the gateway's default JWT_ISSUER. */
  readonly issuer?: string;
  /** Default `orderstream-api`, the gateway's default JWT_AUDIENCE. */
  readonly audience?: string;
  /** Seconds from now; negative for a token that expired that long ago. Default 300. */
  readonly expiresInSeconds?: number;
  /** The `typ` claim; default `access`. */
  readonly type?: string;
}

export const ISSUER = 'orderstream';
export const AUDIENCE = 'orderstream-api';

/** An HS256 token with the claims the gateway issues (auth/tokens.ts): role, typ, sub, iss, aud, exp, jti. */
export function signAccess(claims: AccessClaims, options: SigningOptions): string {
  const now = Math.floor(Date.now() / 1000);
  // iat and exp set by hand: jsonwebtoken refuses a negative expiresIn, and an expired token needs one.
  const exp = now + (options.expiresInSeconds ?? 300);
  return jwt.sign(
    { role: claims.role, typ: options.type ?? 'access', iat: Math.min(now, exp - 60), exp },
    options.secret,
    { algorithm: 'HS256', subject: claims.userId, issuer: options.issuer ?? ISSUER, audience: options.audience ?? AUDIENCE, jwtid: randomUUID() },
  );
}

/** `alg: none`: the claims of a valid token with no signature at all. */
export function unsigned(claims: AccessClaims): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { role: claims.role, typ: 'access', sub: claims.userId, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300, jti: randomUUID() };
  return `${segment({ alg: 'none', typ: 'JWT' })}.${segment(payload)}.`;
}

/** A real token whose payload is rewritten by `change` while its header and signature stay. */
export function tampered(token: string, change: (payload: Record<string, unknown>) => Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined) throw new Error('not a JWT');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${header}.${segment(change(claims))}.${signature}`;
}

/** The decoded payload of a token, unverified. */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (payload === undefined) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
