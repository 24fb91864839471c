/**
 * The connections of a local run (functions/connection/run-connections.ts)
 * with what this process gives them: its environment for `{{env:NAME}}`,
 * and for `--sigv4` the SDK's signer with the default credential chain,
 * whose credentials are resolved before anything is sent (none is exit 3).
 */
import { checkSigV4Credentials, sigV4UrlSigner } from '../../functions/adapters/sigv4-url-signer.js';
import { runConnections, type RunConnections } from '../../functions/connection/run-connections.js';
import type { ProbeSettings } from '../../functions/engine/types.js';

/** The connections of a run with `settings`; `close` them when the command is done. */
export async function openLocalConnections(settings: ProbeSettings): Promise<RunConnections> {
  if (!settings.sigv4) return runConnections(settings, { env: process.env });
  await checkSigV4Credentials();
  return runConnections(settings, { env: process.env, sign: sigV4UrlSigner(settings.sigv4) });
}
