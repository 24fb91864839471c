/**
 * The account's Lambda concurrency in a region (GetAccountSettings), for
 * `ws-ceiling config check --region`. It must never hang on a machine
 * without credentials: the call is tried once, with short connection and
 * request timeouts, and the whole look-up (credential resolution included,
 * which may try the instance metadata service) is abandoned after a bound.
 * A failure is an answer too: it says why the figures could not be read.
 */
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { AccountConcurrency } from '../config/lambda-concurrency.js';

/** Longest the whole look-up may take, unless told otherwise. */
const DEFAULT_TIMEOUT_MS = 5000;

/** The account's figures, or why they could not be read. */
export type ConcurrencyReading = { read: true; concurrency: AccountConcurrency } | { read: false; reason: string };

/** How the look-up is made. */
export interface ReadConcurrencyOptions {
  /** Longest the look-up may take, milliseconds (default 5 s). */
  timeoutMs?: number;
  /** A client for the region (default: one with the default credential chain). */
  client?: LambdaClient;
}

/** Reads the account's concurrency limit and unreserved concurrency in `region`; never throws, never hangs. */
export async function readAccountConcurrency(
  region: string,
  options: ReadConcurrencyOptions = {},
): Promise<ConcurrencyReading> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client =
    options.client ??
    new LambdaClient({ region, maxAttempts: 1, requestHandler: { connectionTimeout: 2000, requestTimeout: 3000 } });
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ConcurrencyReading>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve({ read: false, reason: `no answer within ${timeoutMs / 1000} s` });
    }, timeoutMs);
  });
  const answered = client
    .send(new GetAccountSettingsCommand({}), { abortSignal: abort.signal })
    .then((settings): ConcurrencyReading => {
      const limit = settings.AccountLimit?.ConcurrentExecutions;
      const unreserved = settings.AccountLimit?.UnreservedConcurrentExecutions;
      if (limit === undefined || unreserved === undefined) {
        return { read: false, reason: 'GetAccountSettings gave no concurrency figures' };
      }
      return { read: true, concurrency: { limit, unreserved } };
    })
    .catch((error: unknown): ConcurrencyReading => ({
      read: false,
      reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    }));
  try {
    return await Promise.race([answered, timedOut]);
  } finally {
    clearTimeout(timer);
    if (!options.client) client.destroy();
  }
}
