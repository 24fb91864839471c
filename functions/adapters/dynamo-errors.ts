/**
 * How the DynamoDB adapters read and report the SDK's errors: one test for an
 * error of a given type (also when it crossed a bundle boundary and lost its
 * class), and one wording of a failed store operation.
 */
import { StoreError } from '../engine/errors.js';

/**
 * True when `error` is an SDK error of `type`, by class or, when bundles hold
 * their own copy of the class, by name.
 */
export function isAwsError(error: unknown, type: new (...args: never[]) => Error): boolean {
  return error instanceof type || (error instanceof Error && error.name === type.name);
}

/** A {@link StoreError} naming the operation and the table, with the SDK's error as its cause. */
export function dynamoStoreError(operation: string, tableName: string, cause: unknown): StoreError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StoreError(`cannot ${operation} in DynamoDB table ${tableName}: ${reason}`, { cause });
}
