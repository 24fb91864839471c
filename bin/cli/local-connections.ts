/**
 * The connections of a local run (functions/connection/run-connections.ts)
 * with what this process gives them: its environment for `{{env:NAME}}`,
 * and for `--sigv4` the SDK's signer with the default credential chain,
 * whose credentials are resolved before anything is sent (none is exit 3).
 * They are made in this process, so a run that needs them is not spread
 * over probe processes (`--processes`).
 */
import { checkSigV4Credentials, sigV4UrlSigner } from '../../functions/adapters/sigv4-url-signer.js';
import { runConnections, type RunConnections } from '../../functions/connection/run-connections.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { ProbeSettings } from '../../functions/engine/types.js';

/** The connections of a run with `settings`; `close` them when the command is done. */
export async function openLocalConnections(settings: ProbeSettings): Promise<RunConnections> {
  if (!settings.sigv4) return runConnections(settings, { env: process.env });
  await checkSigV4Credentials();
  return runConnections(settings, { env: process.env, sign: sigV4UrlSigner(settings.sigv4) });
}

/**
 * Refuses `--processes` other than 1 for a run whose connections are made per attempt or set up a session (templates,
 * init messages, a ready message, a URL provider, SigV4): the probe processes open the plain URL and headers only, and
 * one URL provider keeps the run's rate.
 */
export function checkProcessesForConnections(processes: string | undefined, settings: ProbeSettings): void {
  if (processes === undefined || processes.trim() === '1') return;
  const templated = [settings.url, ...Object.values(settings.headers)].some((value) => value.includes('{{'));
  if (!templated && !settings.session && !settings.sessionUrlSource && !settings.sigv4) return;
  throw new InvalidInputError(
    '--processes',
    'spreads the plain ramp only: a run with templates, --init-message, --ready-when, --session-url-from or --sigv4 ' +
      'runs in one process; leave --processes out',
  );
}
