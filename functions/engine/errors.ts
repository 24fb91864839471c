/**
 * The probe's own faults. Drops and refusals of the target are data
 * (classified records), never exceptions; these errors are for what stops
 * ws-ceiling itself: bad input, an unusable store. Each maps to a CLI exit code.
 */

/** Base class of every error ws-ceiling throws on purpose. */
export class WsCeilingError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Input that cannot be used as given: names the field and what is allowed. Exit code 2. */
export class InvalidInputError extends WsCeilingError {
  /** The flag, option or field that was wrong, e.g. `--stages`. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`, 2);
    this.field = field;
  }
}

/** The run store could not be opened, read or written. Exit code 3. */
export class StoreError extends WsCeilingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 3, options);
  }
}
