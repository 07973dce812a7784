/**
 * The gateway's configuration from the environment. Every variable is listed here and in
 * README's table; a bad value fails at start with the variable's name.
 *
 *   PORT (8080), HOST (127.0.0.1)            where to listen
 *   JWT_SECRET                              HMAC secret (≥ 32 bytes); required unless the embedded default generates one
 *   JWT_ISSUER (orderstream), JWT_AUDIENCE (orderstream-api), ACCESS_TOKEN_TTL_S (900), REFRESH_TOKEN_TTL_S (604800)
 *   LOGIN_MAX_FAILURES (5), LOGIN_MAX_PER_ADDRESS (30), LOGIN_WINDOW_S (300): failed logins per account / per address
 *   BODY_LIMIT (64kb), PUBLISH_TIMEOUT_MS (5000), READ_YOUR_WRITES_MS (3000), IDEMPOTENCY_TTL_S (86400)
 *   GATEWAY_ID (gateway-<hostname>-<pid>)  this instance's realtime consumer group; unique per instance
 *   WS_MAX_BUFFERED_BYTES (1048576), WS_HEARTBEAT_MS (10000)
 *   LOG_LEVEL (info)
 */
import { hostname } from 'node:os';
import { numberFromEnv, type Env } from '../processors/common/env.ts';
import type { LoginLimits } from './auth/limiter.ts';
import type { TokenSettings } from './auth/tokens.ts';

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly jwt: TokenSettings;
  readonly login: LoginLimits;
  readonly bodyLimit: string;
  readonly publishTimeoutMs: number;
  readonly readYourWritesMs: number;
  readonly idempotencyTtlMs: number;
  readonly gatewayId: string;
  readonly ws: { readonly maxBufferedBytes: number; readonly heartbeatMs: number };
  readonly logLevel: string;
}

export function gatewayConfigFromEnv(env: Env, defaults: { jwtSecret?: string } = {}): GatewayConfig {
  const secret = env.JWT_SECRET ?? defaults.jwtSecret;
  if (!secret) throw new Error('JWT_SECRET is required (at least 32 bytes of secret)');
  if (Buffer.byteLength(secret) < 32) throw new Error('JWT_SECRET must be at least 32 bytes');
  const bodyLimit = env.BODY_LIMIT ?? '64kb';
  if (!/^\d+(b|kb|mb)$/i.test(bodyLimit)) throw new Error(`BODY_LIMIT must look like 64kb, not ${JSON.stringify(bodyLimit)}`);
  return {
    host: env.HOST ?? '127.0.0.1',
    port: numberFromEnv(env, 'PORT', 8080),
    jwt: {
      secret,
      issuer: env.JWT_ISSUER ?? 'orderstream',
      audience: env.JWT_AUDIENCE ?? 'orderstream-api',
      accessTtlSeconds: numberFromEnv(env, 'ACCESS_TOKEN_TTL_S', 900),
      refreshTtlSeconds: numberFromEnv(env, 'REFRESH_TOKEN_TTL_S', 7 * 24 * 3600),
    },
    login: {
      perAccount: numberFromEnv(env, 'LOGIN_MAX_FAILURES', 5),
      perAddress: numberFromEnv(env, 'LOGIN_MAX_PER_ADDRESS', 30),
      windowSeconds: numberFromEnv(env, 'LOGIN_WINDOW_S', 300),
    },
    bodyLimit,
    publishTimeoutMs: numberFromEnv(env, 'PUBLISH_TIMEOUT_MS', 5000),
    readYourWritesMs: numberFromEnv(env, 'READ_YOUR_WRITES_MS', 3000),
    idempotencyTtlMs: numberFromEnv(env, 'IDEMPOTENCY_TTL_S', 24 * 3600) * 1000,
    gatewayId: env.GATEWAY_ID ?? `gateway-${hostname()}-${process.pid}`,
    ws: { maxBufferedBytes: numberFromEnv(env, 'WS_MAX_BUFFERED_BYTES', 1 << 20), heartbeatMs: numberFromEnv(env, 'WS_HEARTBEAT_MS', 10_000) },
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}
