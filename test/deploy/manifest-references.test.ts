/**
 * Names the manifests share with the code and the docs: every environment variable is a setting of
 * libs/config/config.ts (a typo would be silently ignored by the app), every entrypoint is an app, and
 * every Secret key the manifests read is listed in deploy/README.md's `kubectl create secret`.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../libs/config/index.js';
import { kustomizeBuild, repoRoot } from './manifests.js';
import { containerEnv, isQrgateContainer, podSpecOf, type K8sObject } from './policy.js';

/** The setting names of the config schema. */
const configSettingNames = (): Set<string> => new Set(CONFIG_VARIABLES);

const overlays = readdirSync(join(repoRoot, 'deploy/k8s/overlays')).sort();
const rendered = new Map(overlays.map((o) => [o, kustomizeBuild(`deploy/k8s/overlays/${o}`)] as const));

function qrgateContainers(objects: K8sObject[]) {
  return objects.flatMap((obj) => {
    const pod = podSpecOf(obj);
    return (pod?.spec.containers ?? []).filter(isQrgateContainer).map((container) => ({ obj, container }));
  });
}

describe('manifest references', () => {
  const settings = configSettingNames();

  it('reads the config schema (sanity check of the parser)', () => {
    for (const name of ['PORT', 'REDIS_URL', 'SHUTDOWN_TIMEOUT_MS', 'WECHAT_AES_KEY_PREVIOUS']) expect(settings).toContain(name);
  });

  for (const [overlay, objects] of rendered) {
    it(`${overlay}: every environment variable is a config setting`, () => {
      const containers = qrgateContainers(objects);
      expect(containers.length).toBeGreaterThan(0);
      for (const { obj, container } of containers) {
        const unknown = [...containerEnv(container, objects, obj.metadata.namespace).keys()].filter((name) => !settings.has(name));
        expect(unknown, `${obj.kind}/${obj.metadata.name} container ${container.name}`).toEqual([]);
      }
    });

    it(`${overlay}: every entrypoint is an app of this repo`, () => {
      for (const { container } of qrgateContainers(objects)) {
        const script = container.args?.[1] ?? '';
        const app = /^dist\/apps\/([a-z-]+)\/main\.js$/.exec(script)?.[1];
        expect(container.args?.[0], container.name).toBe('node');
        expect(app, `${container.name}: ${script}`).toBeDefined();
        expect(existsSync(join(repoRoot, 'apps', app!, 'main.ts')), `apps/${app}/main.ts`).toBe(true);
      }
    });
  }

  it('the Dockerfile default command is the gateway', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/apps\/gateway\/main\.js"\]$/m);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).not.toMatch(/^HEALTHCHECK/m);
  });

  it('deploy/README.md names every Secret key the manifests read', () => {
    const readme = readFileSync(join(repoRoot, 'deploy/README.md'), 'utf8');
    const keys = new Set<string>();
    for (const objects of rendered.values()) {
      for (const { container } of qrgateContainers(objects)) {
        for (const variable of container.env ?? []) {
          const ref = (variable.valueFrom as { secretKeyRef?: { name: string; key: string } } | undefined)?.secretKeyRef;
          if (ref !== undefined) keys.add(`${ref.name} ${ref.key}`);
        }
      }
    }
    expect(keys.size).toBeGreaterThan(0);
    for (const entry of keys) {
      const [secret, key] = entry.split(' ') as [string, string];
      expect(readme, entry).toContain(secret);
      expect(readme, entry).toMatch(new RegExp(`--from-(literal|file)=${key}=`));
    }
  });
});
