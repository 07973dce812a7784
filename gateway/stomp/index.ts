/** STOMP 1.2 over WebSocket: the server the gateway mounts on /ws, and its frame codec. */
export { StompRejection, StompServer, type StompHooks, type StompServerOptions } from './server.ts';
export { FrameParser, HEARTBEAT, StompParseError, serializeFrame, type FrameParserOptions, type OutgoingFrame, type StompFrame } from './frame.ts';
