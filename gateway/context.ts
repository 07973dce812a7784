/** What route modules are built from: the composition root (app.ts) makes one per gateway. */
import type { Logger } from 'pino';
import type { Collections } from './collections.ts';
import type { EventPublisher } from './events.ts';
import type { LoginLimiter } from './auth/limiter.ts';
import type { Sessions } from './auth/sessions.ts';
import type { TokenService } from './auth/tokens.ts';
import type { RecentOrders } from './orders/recent.ts';

export interface GatewayContext {
  readonly db: Collections;
  readonly events: EventPublisher;
  readonly tokens: TokenService;
  readonly sessions: Sessions;
  readonly limiter: LoginLimiter;
  readonly logger: Logger;
  /** How long a read of an order just accepted waits for the projection to catch up. */
  readonly readYourWritesMs: number;
  readonly recentOrders: RecentOrders;
  readonly now: () => number;
}
