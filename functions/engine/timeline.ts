/**
 * The global open-connection count over time, merged from every shard's
 * records: a connection counts from the moment it opened until it closed,
 * whoever closed it. Beside it, the places taken at the target: there a
 * connection the probe closed stops counting when the probe started closing
 * it, as the server may give its place to another shard's upgrade as soon as
 * the close frame arrives, before the busy process that sent it reads the
 * server's answer (counted until then, the open count shows more than the
 * target held, which reads as a rate limit).
 */
import type { ConnectionRecord } from './types.js';

/** Open-connection counts at any instant of a run. */
export class OpenTimeline {
  readonly #openedAt: number[];
  readonly #closedAt: number[];
  /** When each closed connection gave its place at the target back (see the module comment). */
  readonly #freedAt: number[];
  /** When each opened connection was attempted and when it opened. */
  readonly #handshakes: ReadonlyArray<{ attemptedAt: number; openedAt: number }>;

  constructor(records: readonly ConnectionRecord[]) {
    const opened = records.filter((record) => record.outcome === 'opened');
    this.#openedAt = opened.map((record) => record.settledAt).sort((a, b) => a - b);
    this.#handshakes = opened.map((record) => ({ attemptedAt: record.attemptedAt, openedAt: record.settledAt }));
    this.#closedAt = opened.flatMap((record) => (record.close ? [record.close.at] : [])).sort((a, b) => a - b);
    this.#freedAt = opened
      .flatMap((record) => (record.close ? [record.close.probeClosingAt ?? record.close.at] : []))
      .sort((a, b) => a - b);
  }

  /** Connections open at `at`: opened at or before it, not closed before it. */
  openAt(at: number): number {
    return countAtOrBefore(this.#openedAt, at) - countBefore(this.#closedAt, at);
  }

  /** Connections open just after `at`: opened at or before it, not closed at or before it. */
  openAfter(at: number): number {
    return countAtOrBefore(this.#openedAt, at) - countAtOrBefore(this.#closedAt, at);
  }

  /** Connections open just before `at`, so a stage window ending at `at` excludes opens of the next stage. */
  openJustBefore(at: number): number {
    return countBefore(this.#openedAt, at) - countBefore(this.#closedAt, at);
  }

  /** Connections that opened after `after` and up to `until`. */
  openedBetween(after: number, until: number): number {
    return countAtOrBefore(this.#openedAt, until) - countAtOrBefore(this.#openedAt, after);
  }

  /**
   * When the last connection that was attempted at or before `at` but opened after it opened, or `at` when none did:
   * the end of the handshakes that were in flight at `at`.
   */
  inFlightSettledBy(at: number): number {
    let end = at;
    for (const { attemptedAt, openedAt } of this.#handshakes) {
      if (attemptedAt <= at && openedAt > end) end = openedAt;
    }
    return end;
  }

  /**
   * The most places taken at the target after `after` and up to `until`: connections opened and not yet closed, a
   * connection the probe closed counting only until the probe started closing it.
   */
  peakPlacesBetween(after: number, until: number): number {
    return this.#peakBetween(after, until, this.#freedAt);
  }

  /** The highest open count reached after `after` and up to `until`. */
  peakBetween(after: number, until: number): number {
    return this.#peakBetween(after, until, this.#closedAt);
  }

  /** The highest count of connections opened and not yet ended (by `endedAt`, sorted) at an open in the window. */
  #peakBetween(after: number, until: number, endedAt: readonly number[]): number {
    let peak = 0;
    for (const openedAt of this.#openedAt) {
      if (openedAt > after && openedAt <= until) {
        peak = Math.max(peak, countAtOrBefore(this.#openedAt, openedAt) - countBefore(endedAt, openedAt));
      }
    }
    return peak;
  }
}

function countAtOrBefore(sorted: readonly number[], at: number): number {
  return firstIndexWhere(sorted, (value) => value > at);
}

function countBefore(sorted: readonly number[], at: number): number {
  return firstIndexWhere(sorted, (value) => value >= at);
}

/** Index of the first element satisfying a predicate that is monotone over the sorted array. */
function firstIndexWhere(sorted: readonly number[], predicate: (value: number) => boolean): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (predicate(sorted[middle] as number)) high = middle;
    else low = middle + 1;
  }
  return low;
}
