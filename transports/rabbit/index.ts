export class RabbitTransport {}; export type RabbitTransportOptions = { url: string };
