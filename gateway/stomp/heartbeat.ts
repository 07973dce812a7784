/** STOMP heart-beat header arithmetic (internal to the STOMP server). */

/** `heart-beat: cx,cy` → [the sender can beat every cx ms, it wants a beat every cy ms]; absent → [0, 0]. */
export function parseHeartbeat(value: string | undefined): readonly [number, number] {
  if (value === undefined) return [0, 0];
  const match = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(value);
  if (!match) throw new RangeError(`invalid heart-beat header ${JSON.stringify(value)}: expected two non-negative integers "x,y"`);
  return [Number(match[1]), Number(match[2])];
}

/**
 * The interval one direction runs at (spec §Heart-beating): off when the sender cannot beat
 * or the receiver does not want beats, else the slower of what is offered and what is asked.
 */
export function negotiateHeartbeat(senderCan: number, receiverWants: number): number {
  return senderCan === 0 || receiverWants === 0 ? 0 : Math.max(senderCan, receiverWants);
}
