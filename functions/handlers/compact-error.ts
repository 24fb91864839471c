/**
 * Keeps a failed worker's error small on its way to Step Functions. The map's
 * catch copies Lambda's whole error document (message and stack trace, 1-2 KB)
 * into the shard's FailedShard, and the plan budgets
 * MAP_RESULT_ALLOWANCE_BYTES per shard of the record step's 256 KB input, so
 * a run whose workers all failed would otherwise fail the execution itself
 * instead of being recorded as inconclusive. The full error is logged first.
 */
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Logger } from '../engine/logger.js';

/** Longest error message a worker reports to Step Functions, in characters. */
export const MAX_REPORTED_MESSAGE_LENGTH = 200;
/**
 * Most bytes the message may take in the FailedShard, where it is escaped
 * twice (a JSON string inside Lambda's JSON error document): a quote takes 4.
 */
const MAX_REPORTED_MESSAGE_BYTES = 300;
const ELLIPSIS = '…';

/**
 * Shortens `error` in place, keeping its class and name: the message is cut
 * to {@link MAX_REPORTED_MESSAGE_LENGTH} characters and 300 bytes as it sits
 * in the FailedShard, and the stack becomes the name alone, which is all of
 * the trace Lambda then reports.
 */
export function compactError(error: Error): Error {
  error.message = shortened(error.message);
  error.stack = error.name;
  return error;
}

/** `message`, or as much of it as fits the limits followed by an ellipsis. */
function shortened(message: string): string {
  const room = MAX_REPORTED_MESSAGE_BYTES - twiceEscapedBytes(ELLIPSIS);
  let kept = '';
  let characters = 0;
  let bytes = 0;
  for (const character of message) {
    characters += 1;
    bytes += twiceEscapedBytes(character);
    if (characters > MAX_REPORTED_MESSAGE_LENGTH - 1 || bytes > room) return `${kept}${ELLIPSIS}`;
    kept += character;
  }
  return message;
}

/** Bytes `text` takes once escaped as a JSON string inside a JSON string. */
function twiceEscapedBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(JSON.stringify(text))) - 6;
}

/** A middy middleware that logs a handler's error in full, then lets it go on compacted. */
export function compactErrors(logOf: (context: Context) => Logger): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    onError: (request) => {
      const { error } = request;
      if (!(error instanceof Error)) return;
      logOf(request.context).error('worker failed', { error });
      request.error = compactError(error);
    },
  };
}
