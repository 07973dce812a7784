/** Types of orders.js for its unit test (the page itself is plain JavaScript, no build step). */
export interface StatusBody {
  orderId: string; status: string; statusDescription: string; progressPercentage: number; canCancel: boolean; lastUpdated: string;
}
export interface TimelineEntry { from: string | null; to: string; reason: string | null; at: string; sequence: number }
export interface Order {
  orderId: string; status: StatusBody; timeline: TimelineEntry[]; placedAt: string | null; total?: number; loaded: boolean; seq: number;
  [field: string]: unknown;
}
export interface ChatMessage { messageId: string; orderId: string; fromUserId: string; toUserId: string; text: string; sentAt: string }
export interface ApiLike { get(path: string): Promise<unknown>; post(path: string, body?: unknown, headers?: Record<string, string>): Promise<unknown> }
export interface RealtimeLike {
  readonly connected: boolean;
  subscribe(destination: string, handler: (body: unknown) => void): Promise<void>;
  unsubscribe(destination: string): void;
  send(destination: string, json: unknown): Promise<void>;
}

export class OrderStore {
  constructor(api: ApiLike, realtime: RealtimeLike);
  openChat: string | undefined;
  me: string | undefined;
  onChange(listener: (orderId: string | undefined) => void): () => void;
  get(orderId: string): Order | undefined;
  list(): Order[];
  chat(orderId: string): ChatMessage[];
  unread(orderId: string): number;
  markRead(orderId: string): void;
  clear(): void;
  load(path: string): Promise<void>;
  track(orderId: string, options?: { placeholder?: Omit<Order, 'loaded' | 'seq'>; known?: boolean }): Promise<void>;
  refresh(orderId: string): Promise<void>;
  send(orderId: string, text: string): Promise<void>;
}
