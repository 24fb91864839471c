/**
 * What a deployed target may say about how its connections are made, beyond
 * the URL and headers: the templates its URL, header values and init
 * messages may hold, and the scope of its SigV4 signature. A deployed worker
 * runs in Lambda with none of the user's environment, so `{{env:NAME}}` is
 * refused there (a secret goes in Secrets Manager, by reference), and so is
 * `{{session}}` (a deployed target has no URL provider). The SigV4 scope, the
 * API's region and id, comes from an API Gateway host name or from the
 * target's `auth`, and names the one API the worker's role may invoke.
 */
import { parseTemplate } from '../engine/connection-template.js';
import { WsCeilingError } from '../engine/errors.js';
import { parseExecuteApiHost } from '../engine/execute-api.js';

/** Why `text` cannot be a deployed template (an unknown template, `{{env:…}}`, `{{session}}`), or undefined. */
function deployedTemplateProblem(text: string): string | undefined {
  if (!text.includes('{{')) return undefined;
  let parts;
  try {
    ({ parts } = parseTemplate(text, 'value', { session: false }));
  } catch (error) {
    if (!(error instanceof WsCeilingError)) throw error;
    const problem = error.message.replace(/^value: /, '');
    if (problem.startsWith('{{session}}')) {
      return "{{session}} fills in a URL provider's value (--session-url-from), and a deployed target has none";
    }
    return problem.replace(/: use \{\{n\}\}.*$/, ': use {{n}}, {{shard}} or {{uuid}}');
  }
  const env = parts.find((part) => part.kind === 'env');
  if (env?.kind !== 'env') return undefined;
  return (
    `{{env:${env.name}}} reads the environment of the machine that runs the CLI, and a deployed worker has none ` +
    'of it: put the value in Secrets Manager and give a secret reference'
  );
}

/** The API a SigV4-signed target connects to: the signature's region and the API id its role may invoke. */
export interface SigV4Scope {
  region: string;
  apiId: string;
}

/**
 * The SigV4 scope of a target at `url`: `region` and `apiId` as given, else read from an API Gateway host name
 * (`<api id>.execute-api.<region>.amazonaws.com`). A problem naming the missing field when neither gives it.
 */
export function sigV4ScopeOf(
  url: string,
  given: { region?: string | undefined; apiId?: string | undefined },
): SigV4Scope | { field: 'region' | 'apiId'; problem: string } {
  const host = parseExecuteApiHost(new URL(url).hostname);
  const region = given.region ?? host?.region;
  const apiId = given.apiId ?? host?.apiId;
  const why = 'the URL is not an API Gateway host (<api id>.execute-api.<region>.amazonaws.com) that names it';
  if (region === undefined) return { field: 'region', problem: `is required: ${why}` };
  if (apiId === undefined) {
    return { field: 'apiId', problem: `is required, for the worker's execute-api:Invoke permission: ${why}` };
  }
  return { region, apiId };
}

/** A field of a target that cannot be a deployed template: its path under the target, and why. */
export interface TemplateIssue {
  path: (string | number)[];
  message: string;
}

/** The URL, the text header values and the text init messages of a target that are not deployed templates. */
export function deployedTemplateIssues(target: {
  url: string;
  headers: Readonly<Record<string, unknown>>;
  session?: { initMessages: readonly unknown[] } | undefined;
}): TemplateIssue[] {
  const fields: Array<[(string | number)[], unknown]> = [
    [['url'], target.url],
    ...Object.entries(target.headers).map(([name, value]): [(string | number)[], unknown] => [
      ['headers', name],
      value,
    ]),
    ...(target.session?.initMessages ?? []).map((value, index): [(string | number)[], unknown] => [
      ['session', 'initMessages', index],
      value,
    ]),
  ];
  return fields.flatMap(([path, value]) => {
    const message = typeof value === 'string' ? deployedTemplateProblem(value) : undefined;
    return message === undefined ? [] : [{ path, message }];
  });
}
