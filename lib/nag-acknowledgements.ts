/**
 * Acknowledgements of cdk-nag AwsSolutions findings, each with the reason it
 * is acceptable. cdk-nag reports a wildcard resource as one finding per
 * resource (`AwsSolutions-IAM5[Resource::<flattened ARN>]`); the helper below
 * reads a policy's statements and acknowledges only the wildcard resources a
 * reason explicitly matches, so a new, unexplained wildcard still fails.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { Policy, type IRole } from 'aws-cdk-lib/aws-iam';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/** Why some wildcard resources of a policy are as narrow as IAM allows. */
export interface WildcardReason {
  /** Picks the flattened resources this reason covers, e.g. `(r) => r.endsWith('/runs/*')`. */
  matches: (flatResource: string) => boolean;
  reason: string;
}

/** A resource (ARN or token) as cdk-nag names it in a finding, e.g. `<RecordFunction0FDC7770.Arn>`. */
export function flatResource(scope: IConstruct, resource: unknown): string {
  return flattenCfnReference(Stack.of(scope).resolve(resource));
}

/** Acknowledges one cdk-nag rule (not a wildcard finding) on `scope` and everything under it. */
export function acknowledgeRule(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${rule}`, reason });
}

/**
 * Acknowledges each wildcard resource of `policy`'s allow statements that a
 * reason matches, with that reason. Call it once every statement is added.
 */
export function acknowledgeWildcards(policy: Policy, reasons: WildcardReason[]): void {
  const document = Stack.of(policy).resolve(policy.document) as { Statement?: Array<{ Effect: string; Resource?: unknown }> };
  for (const statement of document.Statement ?? []) {
    if (statement.Effect !== 'Allow') continue;
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    for (const resource of resources) {
      const flat = flattenCfnReference(resource);
      if (!flat.includes('*')) continue;
      const reason = reasons.find((candidate) => candidate.matches(flat));
      if (reason) Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason: reason.reason });
    }
  }
}

/** The policy CDK creates on `role` for its grants; throws when the role has none yet. */
export function defaultPolicyOf(role: IRole): Policy {
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!(policy instanceof Policy)) throw new Error(`${role.node.path} has no default policy yet`);
  return policy;
}
