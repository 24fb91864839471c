import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ENGINE = fileURLToPath(new URL('../functions/engine/', import.meta.url));

/** Every module a file imports at run time (type-only imports are erased by the compiler). */
function runtimeImports(source: string): string[] {
  return [...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)].map((match) => match[1] as string);
}

describe('functions/engine', () => {
  it('imports neither the AWS SDK, nor ws, nor the connection layer at run time, and never reads process.env', () => {
    const offending: string[] = [];
    for (const file of readdirSync(ENGINE).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(join(ENGINE, file), 'utf8');
      for (const imported of runtimeImports(source)) {
        if (imported.startsWith('@aws-sdk/') || imported === 'ws' || imported.includes('/connection/')) offending.push(`${file} imports ${imported}`);
      }
      if (/process\.env/.test(source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''))) offending.push(`${file} reads process.env`);
    }
    expect(offending).toEqual([]);
  });
});
