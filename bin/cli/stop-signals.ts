/**
 * The kill switch of a local probe: SIGINT (Ctrl-C), SIGTERM and SIGHUP (what
 * `timeout`, `docker stop`, CI runners and a closed terminal send) all stop
 * the run the same way. The first stops it: the probe closes its connections
 * with 1000 and stores the run as inconclusive. A second exits at once with
 * code 3 and says what it skipped. One per process: `run` and `diagnose`
 * hold it for as long as they probe.
 */
import { EXIT_CODES } from './exit-codes.js';

/** The signals that stop a local probe. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Where the kill switch writes, and how it ends the process on a second signal. */
export interface StopSignalsIo {
  stderr: { write(text: string): unknown };
  exit: (code: number) => void;
}

/** The kill switch of this process. */
class StopSignals {
  readonly #controller = new AbortController();
  #holders = 0;
  #io: StopSignalsIo | undefined;
  #skipping: () => string | undefined = () => undefined;

  /** Aborted at the first stop signal. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Says, as the command moves on, what a second signal would skip now (e.g.
   * `closing the 20 open connections with 1000 and storing the run`), or
   * undefined when it would skip nothing.
   */
  skipping(describe: () => string | undefined): void {
    this.#skipping = describe;
  }

  /** Runs `work` with `describe` saying what a second signal would skip meanwhile, then restores what it said. */
  async during<T>(describe: () => string, work: () => Promise<T>): Promise<T> {
    const before = this.#skipping;
    this.#skipping = describe;
    try {
      return await work();
    } finally {
      this.#skipping = before;
    }
  }

  /** Listens for the stop signals until the returned release is called (by every holder). */
  hold(io: StopSignalsIo): () => void {
    this.#io = io;
    if (this.#holders === 0) for (const name of STOP_SIGNALS) process.on(name, this.#onSignal);
    this.#holders += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holders -= 1;
      if (this.#holders === 0) for (const name of STOP_SIGNALS) process.removeListener(name, this.#onSignal);
    };
  }

  readonly #onSignal = (name: NodeJS.Signals): void => {
    const io = this.#io;
    const skipped = this.#skipping();
    if (!this.#controller.signal.aborted) {
      const then = skipped === undefined ? '' : `: ${skipped}; a second signal exits at once, without that`;
      io?.stderr.write(`\nStopping on ${name}${then}.\n`);
      this.#controller.abort(new Error(`stopped by ${name}`));
      return;
    }
    const what = skipped === undefined ? 'nothing was left to do' : `skipped ${skipped}`;
    io?.stderr.write(`\nExiting at once on a second stop signal (${name}): ${what}.\n`);
    io?.exit(EXIT_CODES.probeFailed);
  };
}

/** The kill switch of this process. */
export const stopSignals = new StopSignals();
