/**
 * Window specifications, as Kafka Streams' TimeWindows, SlidingWindows, SessionWindows and
 * JoinWindows. They are values: each method returns a new spec. Times are ms of event time.
 * A window accepts records until stream time passes its end plus the grace period; records for
 * a closed window are dropped as late.
 */
import { TopologyError } from '../errors.ts';

/** A window of a windowed key. Time and sliding windows: [start, end); session windows: [start, end]. */
export interface Window {
  readonly start: number;
  readonly end: number;
}

/** Fixed-size windows aligned to the epoch: tumbling when `advanceMs === sizeMs`, hopping otherwise. */
export class TimeWindows {
  private constructor(readonly sizeMs: number, readonly advanceMs: number, readonly graceMs: number) {
    if (!(sizeMs > 0)) throw new TopologyError(`window size must be positive, not ${sizeMs}`);
    if (!(advanceMs > 0 && advanceMs <= sizeMs)) throw new TopologyError(`window advance must be in (0, ${sizeMs}], not ${advanceMs}`);
    checkGrace(graceMs);
  }

  static ofSizeWithNoGrace(sizeMs: number): TimeWindows {
    return new TimeWindows(sizeMs, sizeMs, 0);
  }

  static ofSizeAndGrace(sizeMs: number, graceMs: number): TimeWindows {
    return new TimeWindows(sizeMs, sizeMs, graceMs);
  }

  /** Hopping windows: a new window starts every `advanceMs`. */
  advanceBy(advanceMs: number): TimeWindows {
    return new TimeWindows(this.sizeMs, advanceMs, this.graceMs);
  }

  /** The windows a record at `timestamp` falls in, earliest first (none start before 0). */
  windowsFor(timestamp: number): Window[] {
    const out: Window[] = [];
    let start = Math.floor(Math.max(0, timestamp - this.sizeMs + this.advanceMs) / this.advanceMs) * this.advanceMs;
    for (; start <= timestamp; start += this.advanceMs) out.push({ start, end: start + this.sizeMs });
    return out;
  }
}

/**
 * Windows of a fixed time difference defined by the records themselves: every record opens the
 * window [ts − diff, ts] that ends at it, and one starting just after it once a later record
 * falls within diff. Both bounds are inclusive; the window end is start + diff.
 */
export class SlidingWindows {
  private constructor(readonly timeDifferenceMs: number, readonly graceMs: number) {
    if (!(timeDifferenceMs >= 0)) throw new TopologyError(`time difference must not be negative, not ${timeDifferenceMs}`);
    checkGrace(graceMs);
  }

  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): SlidingWindows {
    return new SlidingWindows(timeDifferenceMs, 0);
  }

  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): SlidingWindows {
    return new SlidingWindows(timeDifferenceMs, graceMs);
  }
}

/** Sessions per key: records closer than the inactivity gap fall in one session, [first, last]. */
export class SessionWindows {
  private constructor(readonly inactivityGapMs: number, readonly graceMs: number) {
    if (!(inactivityGapMs > 0)) throw new TopologyError(`inactivity gap must be positive, not ${inactivityGapMs}`);
    checkGrace(graceMs);
  }

  static ofInactivityGapWithNoGrace(inactivityGapMs: number): SessionWindows {
    return new SessionWindows(inactivityGapMs, 0);
  }

  static ofInactivityGapAndGrace(inactivityGapMs: number, graceMs: number): SessionWindows {
    return new SessionWindows(inactivityGapMs, graceMs);
  }
}

/**
 * Which records of two streams join: a left record at t joins right records with timestamps in
 * [t − beforeMs, t + afterMs]. Grace is how long after that window a record may still arrive.
 */
export class JoinWindows {
  private constructor(readonly beforeMs: number, readonly afterMs: number, readonly graceMs: number) {
    if (!(beforeMs + afterMs >= 0)) throw new TopologyError(`join window size (before + after) must not be negative, not ${beforeMs + afterMs}`);
    checkGrace(graceMs);
  }

  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): JoinWindows {
    return JoinWindows.ofTimeDifferenceAndGrace(timeDifferenceMs, 0);
  }

  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): JoinWindows {
    if (!(timeDifferenceMs >= 0)) throw new TopologyError(`time difference must not be negative, not ${timeDifferenceMs}`);
    return new JoinWindows(timeDifferenceMs, timeDifferenceMs, graceMs);
  }

  /** Right records up to `beforeMs` earlier than the left record join it. */
  before(beforeMs: number): JoinWindows {
    return new JoinWindows(beforeMs, this.afterMs, this.graceMs);
  }

  /** Right records up to `afterMs` later than the left record join it. */
  after(afterMs: number): JoinWindows {
    return new JoinWindows(this.beforeMs, afterMs, this.graceMs);
  }

  get sizeMs(): number {
    return this.beforeMs + this.afterMs;
  }
}

function checkGrace(graceMs: number): void {
  if (!(graceMs >= 0)) throw new TopologyError(`grace period must not be negative, not ${graceMs}`);
}
