/**
 * Every overlay renders offline with the pinned kustomize, and every rendered object passes the
 * Kubernetes OpenAPI schema (kubernetes-models) or is an explicitly allow-listed custom kind.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kustomizeBuild, readYaml, repoRoot, validateObject } from './manifests.js';

const overlays = readdirSync(join(repoRoot, 'deploy/k8s/overlays')).sort();

describe('kustomize overlays', () => {
  it('has the demo, production and trial overlays', () => {
    expect(overlays).toEqual(expect.arrayContaining(['demo', 'production', 'trial']));
  });

  for (const overlay of overlays) {
    it(`${overlay}: renders and every object passes its schema`, () => {
      const objects = kustomizeBuild(`deploy/k8s/overlays/${overlay}`);
      expect(objects.length).toBeGreaterThan(0);
      for (const obj of objects) {
        expect(() => validateObject(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
      }
    });
  }

  it('observability: renders; the PrometheusRule and PodMonitor pass the allow-listed checks', () => {
    const objects = kustomizeBuild('deploy/observability');
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'PodMonitor', 'PrometheusRule']);
    for (const obj of objects) validateObject(obj);
  });
});

describe('schema validation catches what it should', () => {
  it('throws on a schema-invalid fixture', () => {
    const [invalid] = readYaml('test/deploy/fixtures/schema-invalid.yaml');
    expect(invalid).toBeDefined();
    expect(() => validateObject(invalid!)).toThrow(/replicas must be integer/);
  });

  it('refuses a kind that is neither in kubernetes-models nor allow-listed', () => {
    const unknown = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitr', metadata: { name: 'typo' } };
    expect(() => validateObject(unknown)).toThrow(/not allow-listed/);
  });

  it('refuses a typo in a built-in apiVersion', () => {
    const typo = { apiVersion: 'app/v1', kind: 'Deployment', metadata: { name: 'typo' } };
    expect(() => validateObject(typo)).toThrow(/not allow-listed/);
  });
});
