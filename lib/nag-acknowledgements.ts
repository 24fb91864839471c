/**
 * Acknowledgements of cdk-nag AwsSolutions findings, each with the reason it
 * is acceptable. cdk-nag reports a wildcard resource as one finding per
 * resource (`AwsSolutions-IAM5[Resource::<flattened ARN>]`, its documented
 * finding id); the helper below reads a policy's statements and acknowledges
 * only the wildcard resources a reason explicitly matches, so a new,
 * unexplained wildcard still fails. cdk-nag's public API has no flattener,
 * so {@link flattenReference} writes resources the way its findings name
 * them (test/cdk/probe-app.test.ts proves the two agree: no finding is left).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { Policy, type IRole } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/** Why some wildcard resources of a policy are as narrow as IAM allows. */
export interface WildcardReason {
  /** Picks the flattened resources this reason covers, e.g. `(r) => r.endsWith('/runs/*')`. */
  matches: (flatResource: string) => boolean;
  reason: string;
}

/** A resource (ARN or token) as cdk-nag names it in a finding, e.g. `<RecordFunction0FDC7770.Arn>`. */
export function flatResource(scope: IConstruct, resource: unknown): string {
  return flattenReference(Stack.of(scope).resolve(resource));
}

/**
 * A resolved CloudFormation value as one string, as cdk-nag's findings name
 * it: `Fn::Join` joined, `Ref` as `<Id>`, `Fn::GetAtt` as `<Id.Attribute>`,
 * `${…}` of `Fn::Sub` as `<…>`, anything else as JSON.
 */
export function flattenReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const node = value as Record<string, unknown>;
  if (node['Fn::Join']) {
    const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
    return items.map(flattenReference).join(delimiter);
  }
  if (node['Fn::Sub']) return flattenReference(node['Fn::Sub']);
  if (node['Fn::GetAtt']) {
    const [resource, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
  }
  if (node['Fn::ImportValue']) return flattenReference(node['Fn::ImportValue']);
  if (node.Ref) return `<${flattenReference(node.Ref)}>`;
  return JSON.stringify(value);
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
  const document = Stack.of(policy).resolve(policy.document) as {
    Statement?: Array<{ Effect: string; Resource?: unknown }>;
  };
  for (const statement of document.Statement ?? []) {
    if (statement.Effect !== 'Allow') continue;
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    for (const resource of resources) {
      const flat = flattenReference(resource);
      if (!flat.includes('*')) continue;
      const reason = reasons.find((candidate) => candidate.matches(flat));
      if (reason)
        Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason: reason.reason });
    }
  }
}

/**
 * Acknowledges a wildcard action (cdk-nag's `AwsSolutions-IAM5[Action::<action>]`)
 * in `policy`, e.g. `kms:GenerateDataKey*` granted by CDK for an encrypted topic.
 */
export function acknowledgeWildcardAction(policy: IConstruct, action: string, reason: string): void {
  Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason });
}

/** The policy CDK creates on `role` for its grants; throws when the role has none yet. */
export function defaultPolicyOf(role: IRole): Policy {
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!(policy instanceof Policy)) throw new Error(`${role.node.path} has no default policy yet`);
  return policy;
}
