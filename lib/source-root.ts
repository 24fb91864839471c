/**
 * Where the function sources are. The CDK app runs either from the sources
 * (tests) or compiled (`dist/bin/cdk-app.js`, or a private out dir); esbuild
 * always bundles the handlers from `functions/handlers/*.ts` in the repository,
 * so entry paths are resolved from the repository root, never from the
 * compiled app's folder.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The deployed handlers, by file name under `functions/handlers/`. */
export type HandlerName = 'plan-handler' | 'worker-handler' | 'record-handler';

/**
 * The first folder, walking up from each start folder in turn, that holds
 * `package-lock.json` and `functions/handlers/`. Throws when none does.
 */
export function findSourceRoot(startFolders: string[]): string {
  for (const start of startFolders) {
    let folder = start;
    for (;;) {
      if (existsSync(join(folder, 'package-lock.json')) && existsSync(join(folder, 'functions', 'handlers')))
        return folder;
      const parent = dirname(folder);
      if (parent === folder) break;
      folder = parent;
    }
  }
  throw new Error(
    'cannot find the ws-ceiling sources (package-lock.json and functions/handlers/) ' +
      `above ${startFolders.join(' or ')}: run the CDK app from the repository`,
  );
}

/**
 * The repository root: found from this module's folder, or else from the
 * working directory (the CDK CLI runs the app from the folder of cdk.json).
 */
export function sourceRoot(): string {
  return findSourceRoot([dirname(fileURLToPath(import.meta.url)), process.cwd()]);
}

/** Absolute path of a handler's TypeScript source. */
export function handlerEntry(root: string, name: HandlerName): string {
  return join(root, 'functions', 'handlers', `${name}.ts`);
}
