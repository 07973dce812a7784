/**
 * JWTs with jsonwebtoken. The algorithm is pinned on verify (HS256 only: no `none`, no
 * RS/HS confusion), and `iss`, `aud`, `exp` and the token's type are checked, so a refresh token
 * never passes as an access token. Access tokens are short-lived; refresh tokens carry their
 * family (auth/sessions.ts rotates them).
 */
import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { UserRole } from '../../schemas/index.ts';
import { unauthorized } from '../errors.ts';

export interface Principal {
  readonly userId: string;
  readonly role: UserRole;
}

export interface TokenSettings {
  /** HMAC secret, at least 32 bytes. */
  readonly secret: string;
  readonly issuer: string;
  readonly audience: string;
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;
}

export interface RefreshClaims {
  readonly userId: string;
  readonly tokenId: string;
  readonly familyId: string;
}

const ALGORITHM = 'HS256';

export class TokenService {
  readonly #s: TokenSettings;
  /**
   * The secret as a KeyObject, made once: given a string, jsonwebtoken 9 first tries it as a
   * public key on every call (auth0/node-jsonwebtoken#1046) — 1.3 ms per verify here against
   * 0.07 ms, a third of the gateway's CPU per order (bench/gateway-load.ts).
   */
  readonly #key: KeyObject;

  constructor(settings: TokenSettings) {
    if (Buffer.byteLength(settings.secret) < 32) throw new Error('JWT_SECRET must be at least 32 bytes');
    this.#s = settings;
    this.#key = createSecretKey(Buffer.from(settings.secret, 'utf8'));
  }

  get settings(): Omit<TokenSettings, 'secret'> {
    const { secret: _secret, ...rest } = this.#s;
    return rest;
  }

  issueAccess(principal: Principal): string {
    return jwt.sign({ role: principal.role, typ: 'access' }, this.#key, {
      algorithm: ALGORITHM, subject: principal.userId, issuer: this.#s.issuer, audience: this.#s.audience,
      expiresIn: this.#s.accessTtlSeconds, jwtid: randomUUID(),
    });
  }

  issueRefresh(claims: RefreshClaims): string {
    return jwt.sign({ typ: 'refresh', fam: claims.familyId }, this.#key, {
      algorithm: ALGORITHM, subject: claims.userId, issuer: this.#s.issuer, audience: this.#s.audience,
      expiresIn: this.#s.refreshTtlSeconds, jwtid: claims.tokenId,
    });
  }

  /** The principal of a valid access token; 401 with the reason otherwise. */
  verifyAccess(token: string): Principal {
    const p = this.#verify(token, 'access');
    if (p.role !== 'BUYER' && p.role !== 'SELLER') throw unauthorized('invalid token: unknown role');
    return { userId: p.sub as string, role: p.role };
  }

  verifyRefresh(token: string): RefreshClaims {
    const p = this.#verify(token, 'refresh');
    if (typeof p.fam !== 'string' || typeof p.jti !== 'string') throw unauthorized('invalid refresh token');
    return { userId: p.sub as string, tokenId: p.jti, familyId: p.fam };
  }

  #verify(token: string, type: 'access' | 'refresh'): jwt.JwtPayload {
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.#key, { algorithms: [ALGORITHM], issuer: this.#s.issuer, audience: this.#s.audience });
    } catch (e) {
      if (e instanceof jwt.TokenExpiredError) throw unauthorized('token expired');
      throw unauthorized(`invalid token: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof payload === 'string' || typeof payload.sub !== 'string') throw unauthorized('invalid token: no subject');
    if (payload.typ !== type) throw unauthorized(`invalid token: a ${String(payload.typ)} token where an ${type} token is required`);
    return payload;
  }
}
