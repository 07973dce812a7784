/**
 * Refresh-token rotation with reuse detection (the OAuth 2.0 security BCP's scheme): a login
 * starts a family; each refresh marks the presented token used (compare-and-set, so two racing
 * refreshes cannot both win) and issues the next token of the family. Presenting a token that was
 * already used means it leaked: the whole family is revoked, the thief's and the owner's sessions
 * alike. Logout revokes the family.
 */
import { randomUUID } from 'node:crypto';
import type { Collections } from '../collections.ts';
import { unauthorized } from '../errors.ts';
import type { Principal, TokenService } from './tokens.ts';

export interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly tokenType: 'Bearer';
  readonly expiresIn: number;
}

export class Sessions {
  constructor(private readonly tokens: TokenService, private readonly db: Pick<Collections, 'families' | 'refreshTokens' | 'users'>) {}

  async start(principal: Principal, now = Date.now()): Promise<TokenPair> {
    const familyId = randomUUID();
    const expiresAt = now + this.tokens.settings.refreshTtlSeconds * 1000;
    await this.db.families.insert({ _id: familyId, userId: principal.userId, revoked: false, revokedReason: null, createdAt: now, expiresAt });
    return this.#pair(principal, familyId, now);
  }

  async refresh(refreshToken: string, now = Date.now()): Promise<TokenPair> {
    const claims = this.tokens.verifyRefresh(refreshToken);
    const family = await this.db.families.get(claims.familyId);
    if (!family || family.revoked) throw unauthorized('refresh token revoked');
    const won = await this.db.refreshTokens.update(claims.tokenId, { used: true }, { used: false });
    if (!won) {
      await this.db.families.update(family._id, { revoked: true, revokedReason: 'refresh token reused' });
      throw unauthorized('refresh token already used: every session of this login is revoked');
    }
    const user = await this.db.users.get(claims.userId);
    if (!user) throw unauthorized('refresh token revoked');
    return this.#pair({ userId: user._id, role: user.role }, family._id, now);
  }

  /** Revokes the family of a refresh token; a token that does not verify changes nothing. */
  async end(refreshToken: string): Promise<void> {
    const claims = this.tokens.verifyRefresh(refreshToken);
    await this.db.families.update(claims.familyId, { revoked: true, revokedReason: 'logged out' });
  }

  async #pair(principal: Principal, familyId: string, now: number): Promise<TokenPair> {
    const tokenId = randomUUID();
    await this.db.refreshTokens.insert({
      _id: tokenId, familyId, userId: principal.userId, used: false, expiresAt: now + this.tokens.settings.refreshTtlSeconds * 1000,
    });
    return {
      accessToken: this.tokens.issueAccess(principal),
      refreshToken: this.tokens.issueRefresh({ userId: principal.userId, tokenId, familyId }),
      tokenType: 'Bearer',
      expiresIn: this.tokens.settings.accessTtlSeconds,
    };
  }
}
