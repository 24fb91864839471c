/**
 * What the probe reads from an AWS API Gateway WebSocket endpoint's host
 * name, `<api id>.execute-api.<region>.amazonaws.com`: the API id and the
 * region a SigV4 signature is scoped to, so `--sigv4` needs no
 * `--sigv4-region` for such a host, and the deployed template can grant
 * `execute-api:Invoke` on that one API.
 */

/** The signing service of API Gateway, and `--sigv4-service`'s default. */
export const DEFAULT_SIGV4_SERVICE = 'execute-api';

/** How upgrade URLs are signed (`--sigv4`): the region and service of the signature's credential scope. */
export interface SigV4Settings {
  region: string;
  service: string;
}

/** An API Gateway host name, read. */
export interface ExecuteApiHost {
  apiId: string;
  region: string;
}

const EXECUTE_API_HOST = /^([a-z0-9]{10})\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/** The API id and region of an API Gateway host name; undefined for any other host (a custom domain, say). */
export function parseExecuteApiHost(hostname: string): ExecuteApiHost | undefined {
  const match = EXECUTE_API_HOST.exec(hostname.toLowerCase());
  return match ? { apiId: match[1] ?? '', region: match[2] ?? '' } : undefined;
}
