/**
 * Synthesizes one region's stack in this process for `ws-ceiling rehearse`,
 * offline, as `cdk synth` would: the same app code (lib/probe-app.ts), the
 * feature flags of cdk.json, asset metadata on, and esbuild bundling the
 * handlers into the cloud assembly, whose asset folders hold the exact code
 * the stack deploys. The app holds a stack per region of the config; the
 * rehearsed region's is taken (a later region's state machine waits its
 * stagger first). Loaded only when a rehearsal runs (aws-cdk-lib is large).
 */
import { App } from 'aws-cdk-lib';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configForRegion } from '../functions/config/target-config.js';
import { addRegionStacks } from '../lib/probe-app.js';
import { sourceRoot } from '../lib/source-root.js';
import type { RegionSynthesizer, SynthesizedRegion } from './cli/rehearsal.js';

/** The region's stack of the rehearsal's config, synthesized with bundling into a temporary cloud assembly. */
export const synthesizeRegion: RegionSynthesizer = (options) => {
  const root = sourceRoot();
  const cdkJson = JSON.parse(readFileSync(path.join(root, 'cdk.json'), 'utf8')) as { context?: object };
  const outdir = mkdtempSync(path.join(tmpdir(), 'ws-ceiling-rehearse-'));
  try {
    const app = new App({
      outdir,
      // The template is the same without it; cdk synth's CloudFormation rule set takes 5 to 20 s to load.
      builtinCloudFormationValidation: false,
      context: { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true },
    });
    const stack = addRegionStacks(app, configForRegion(options.config, options.region)).find(
      (candidate) => candidate.region === options.region,
    );
    if (!stack) throw new Error(`no stack for ${options.region}`);
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    const folders = new Map<string, string>();
    for (const manifest of assembly.artifacts.filter(
      (a): a is AssetManifestArtifact => a instanceof AssetManifestArtifact,
    )) {
      const { files = {} } = JSON.parse(readFileSync(manifest.file, 'utf8')) as {
        files?: Record<string, { source: { path?: string }; destinations: Record<string, { objectKey: string }> }>;
      };
      for (const file of Object.values(files)) {
        if (!file.source.path) continue;
        for (const destination of Object.values(file.destinations))
          folders.set(destination.objectKey, path.join(outdir, file.source.path));
      }
    }
    const synthesized: SynthesizedRegion = {
      stackName: stack.stackName,
      template: artifact.template,
      assetFolder: (key) => folders.get(key),
      remove: () => rmSync(outdir, { recursive: true, force: true }),
    };
    return Promise.resolve(synthesized);
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
};
