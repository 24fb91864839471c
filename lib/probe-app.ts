/**
 * Builds the deployed ws-ceiling: one RegionStack per region the config's
 * targets name, each holding only the targets probed from that region, named
 * after the config's `name` when it has one (functions/config/resource-names.ts).
 */
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { WsCeilingConfig } from '../functions/config/config-types.js';
import { configForRegion } from '../functions/config/target-config.js';
import { resourceNames } from '../functions/config/resource-names.js';
import { RegionStack } from './region-stack.js';

/** Where the stacks are deployed. */
export interface DeploymentAccount {
  /** AWS account id; undefined leaves the stacks account-agnostic (offline synth). */
  account?: string;
}

/** The regions the targets are probed from, each once, in config order. */
export function configRegions(config: WsCeilingConfig): string[] {
  return [...new Set(config.targets.flatMap((target) => target.regions))];
}

/** Adds one stack per region of `config` to `app` and returns them in region order. */
export function addRegionStacks(app: App, config: WsCeilingConfig, deployment: DeploymentAccount = {}): RegionStack[] {
  const names = resourceNames(config.name);
  const named = config.name === undefined ? '' : ` (deployment ${config.name})`;
  return configRegions(config).map(
    (region) =>
      new RegionStack(app, names.stack(region), {
        stackName: names.stack(region),
        env: { region, ...(deployment.account ? { account: deployment.account } : {}) },
        description: `ws-ceiling in ${region}${named}: scheduled WebSocket capacity probes, their history and alarms`,
        config: configForRegion(config, region),
        region,
      }),
  );
}

/**
 * Runs cdk-nag's AwsSolutions pack on every synth of `app`: an unacknowledged
 * finding fails the synth (acknowledgements, each with its reason, sit next
 * to the constructs that need them).
 */
export function checkWithCdkNag(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
