#!/usr/bin/env node
/**
 * The CDK app (`cdk.json` runs its compiled form, `dist/bin/cdk-app.js`):
 * reads the config file named by the `config` context value (default
 * `config/example.config.json`, relative to the folder `cdk` runs in),
 * validates it, and defines one stack per region, checked by cdk-nag's
 * AwsSolutions pack, so `cdk synth` fails on an unexplained finding.
 */
import { App } from 'aws-cdk-lib';
import { loadConfigFile } from '../functions/config/target-config.js';
import { InvalidInputError } from '../functions/engine/errors.js';
import { addRegionStacks, checkWithCdkNag } from '../lib/probe-app.js';

/** Config file used when `-c config=…` is not given. */
const DEFAULT_CONFIG_PATH = 'config/example.config.json';

const app = new App();
const configPath = String(app.node.tryGetContext('config') ?? DEFAULT_CONFIG_PATH);
try {
  addRegionStacks(app, loadConfigFile(configPath), { account: process.env.CDK_DEFAULT_ACCOUNT });
  checkWithCdkNag(app);
} catch (error) {
  if (!(error instanceof InvalidInputError)) throw error;
  process.stderr.write(`error: ${error.message}\n`);
  process.exit(2);
}
