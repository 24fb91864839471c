/**
 * The layers of the code base (docs/architecture.md, "Layers"): which folder
 * may import which, checked for every source file, value and type imports
 * alike, so an arrow that runs back up fails here. The pure core,
 * functions/engine, imports nothing outside itself; only the adapters reach
 * AWS, and only the connection layer (and the simulator and benchmark, which
 * are servers and clients of their own) use `ws`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Every source folder, and the folders it may import from besides itself. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'functions/engine': [],
  'functions/config': ['functions/engine'],
  'functions/connection': ['functions/engine'],
  'functions/probe-host': ['functions/engine'],
  'functions/simulator': ['functions/engine'],
  'functions/diagnose': ['functions/engine'],
  'functions/report': ['functions/engine'],
  'functions/lambda-sandbox': [],
  'functions/rehearsal': ['functions/engine', 'functions/lambda-sandbox'],
  'functions/steps': ['functions/engine', 'functions/config'],
  'functions/adapters': ['functions/engine', 'functions/config', 'functions/steps'],
  'functions/handlers': [
    'functions/engine',
    'functions/config',
    'functions/steps',
    'functions/adapters',
    'functions/connection',
    'functions/probe-host',
    // The record handler renders the run's HTML report with the same renderer as `ws-ceiling report`.
    'functions/report',
  ],
  lib: ['functions/engine', 'functions/config', 'functions/steps'],
  'bin/cli': [
    'functions/engine',
    'functions/config',
    'functions/steps',
    'functions/adapters',
    'functions/connection',
    'functions/probe-host',
    'functions/simulator',
    'functions/diagnose',
    'functions/report',
    'functions/lambda-sandbox',
    'functions/rehearsal',
  ],
  bin: ['bin/cli', 'lib', 'functions/engine', 'functions/config'],
  bench: ['functions/engine', 'functions/connection', 'functions/probe-host'],
  scripts: ['functions/engine', 'functions/simulator', 'test'],
};

/** Packages only some folders may import (a prefix, and the folders). */
const PACKAGE_OWNERS: ReadonlyArray<{ prefix: string; folders: readonly string[] }> = [
  { prefix: '@aws-sdk/', folders: ['functions/adapters'] },
  { prefix: '@smithy/', folders: ['functions/adapters'] },
  { prefix: 'ws', folders: ['functions/connection', 'functions/simulator', 'bench'] },
  { prefix: '@middy/', folders: ['functions/handlers'] },
  { prefix: 'aws-cdk-lib', folders: ['lib', 'bin'] },
  { prefix: 'commander', folders: ['bin', 'bin/cli'] },
  { prefix: 'aws-local-stepfunctions', folders: ['functions/rehearsal'] },
];

/** The only packages the pure core may import. */
const ENGINE_PACKAGES: ReadonlySet<string> = new Set(['node:crypto']);

/** Every module specifier a source imports or re-exports, value or type, static or dynamic. */
function importsOf(source: string): string[] {
  const specifiers = [
    ...source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gms),
    ...source.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ];
  return specifiers.map((match) => match[1] as string);
}

/** The folder of the table a repository path belongs to (the longest that contains it), or undefined. */
function folderOf(path: string): string | undefined {
  const candidates = Object.keys(MAY_IMPORT).filter((folder) => path === folder || path.startsWith(`${folder}/`));
  return candidates.sort((a, b) => b.length - a.length)[0];
}

/** Every layer rule that `source`, at repository path `file`, breaks, in words. */
function layerViolations(file: string, source: string): string[] {
  const from = folderOf(dirname(file));
  if (from === undefined) return [`${file} is in no folder of the layer table`];
  const problems: string[] = [];
  for (const specifier of importsOf(source)) {
    if (specifier.startsWith('.')) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
      const to = folderOf(dirname(target)) ?? target.split('/')[0];
      if (to !== from && !(MAY_IMPORT[from] ?? []).includes(to as string))
        problems.push(`${file} imports ${specifier} (${from} may not import ${to})`);
      continue;
    }
    if (from === 'functions/engine' && !ENGINE_PACKAGES.has(specifier))
      problems.push(`${file} imports ${specifier} (the engine imports no package)`);
    const owner = PACKAGE_OWNERS.find(
      ({ prefix }) => specifier === prefix || specifier.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`),
    );
    if (owner && !owner.folders.includes(from))
      problems.push(`${file} imports ${specifier} (only ${owner.folders.join(', ')} may)`);
  }
  if (from === 'functions/engine' && /process\.env/.test(source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')))
    problems.push(`${file} reads process.env`);
  return problems;
}

/** Every .ts file under the table's top folders, as repository paths. */
function sourceFiles(): string[] {
  const tops = [...new Set(Object.keys(MAY_IMPORT).map((folder) => folder.split('/')[0] as string))];
  const walk = (folder: string): string[] =>
    readdirSync(join(ROOT, folder)).flatMap((name) => {
      const path = `${folder}/${name}`;
      if (statSync(join(ROOT, path)).isDirectory()) return walk(path);
      return name.endsWith('.ts') ? [path] : [];
    });
  return tops.flatMap(walk);
}

describe('layerViolations', () => {
  it('finds no import that breaks the layer table, in any source file', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap((file) => layerViolations(file, readFileSync(join(ROOT, file), 'utf8')))).toEqual([]);
  });

  it('fails an arrow that runs back up: the engine importing config, even for a type', () => {
    const source = "import type { TargetConfig } from '../config/config-types.js';\n";
    expect(layerViolations('functions/engine/plan.ts', source)).toEqual([
      'functions/engine/plan.ts imports ../config/config-types.js (functions/engine may not import functions/config)',
    ]);
  });

  it('fails a sideways arrow, a multi-line import and a dynamic import', () => {
    const source =
      "import {\n  planStep,\n} from '../steps/plan-step.js';\n" +
      "const m = await import('../adapters/dynamo-run-store.js');\n";
    expect(layerViolations('functions/report/html-report.ts', source)).toEqual([
      'functions/report/html-report.ts imports ../steps/plan-step.js (functions/report may not import functions/steps)',
      'functions/report/html-report.ts imports ../adapters/dynamo-run-store.js ' +
        '(functions/report may not import functions/adapters)',
    ]);
  });

  it('keeps AWS in the adapters, ws in the connection layer, and packages and process.env out of the engine', () => {
    expect(
      layerViolations('functions/steps/record-step.ts', "import { S3Client } from '@aws-sdk/client-s3';"),
    ).toHaveLength(1);
    expect(layerViolations('functions/diagnose/diagnose.ts', "import WebSocket from 'ws';")).toHaveLength(1);
    expect(layerViolations('functions/engine/plan.ts', "import { z } from 'zod';")).toHaveLength(1);
    expect(layerViolations('functions/engine/plan.ts', 'const region = process.env.AWS_REGION;')).toEqual([
      'functions/engine/plan.ts reads process.env',
    ]);
    expect(layerViolations('functions/connection/probe-connection.ts', "import WebSocket from 'ws';")).toEqual([]);
  });

  it('refuses a folder that is not in the table', () => {
    expect(layerViolations('functions/misc/helper.ts', '')).toEqual([
      'functions/misc/helper.ts is in no folder of the layer table',
    ]);
  });
});
