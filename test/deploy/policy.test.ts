/**
 * The deployment policy holds for every overlay, production has the topology the issue asks for, and
 * the policy really catches a broken manifest.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kustomizeBuild, readYaml, repoRoot } from './manifests.js';
import { checkPolicy, containerEnv, podSpecOf, type K8sObject } from './policy.js';
import { loadConfig, PRODUCTION_ONLY_SETTINGS } from '../../libs/config/index.js';

const overlays = readdirSync(join(repoRoot, 'deploy/k8s/overlays')).sort();
const isProduction = (overlay: string) => overlay !== 'demo';

const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const obj = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (obj === undefined) throw new Error(`${kind}/${name} not rendered`);
  return obj;
};
// Rendered objects are plain JSON: read nested fields without restating the Kubernetes types here.
const spec = (obj: K8sObject) => obj.spec as any;

describe('deployment policy', () => {
  for (const overlay of overlays) {
    it(`${overlay}: no violations`, () => {
      expect(checkPolicy(kustomizeBuild(`deploy/k8s/overlays/${overlay}`), { production: isProduction(overlay) })).toEqual([]);
    });
  }
});

describe('production overlay', () => {
  const objects = kustomizeBuild('deploy/k8s/overlays/production');

  it('autoscales ≥3 gateways and ≥2 webhooks on CPU, with a PDB for each', () => {
    for (const [name, min] of [
      ['qrgate-gateway', 3],
      ['qrgate-webhook', 2],
    ] as const) {
      const hpa = find(objects, 'HorizontalPodAutoscaler', name);
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(spec(hpa).minReplicas).toBeGreaterThanOrEqual(min);
      expect(spec(hpa).metrics).toContainEqual(
        expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) }),
      );
      expect(find(objects, 'PodDisruptionBudget', name).apiVersion).toBe('policy/v1');
    }
  });

  it('spreads both Deployments across nodes', () => {
    for (const name of ['qrgate-gateway', 'qrgate-webhook']) {
      const constraints = spec(find(objects, 'Deployment', name)).template.spec.topologySpreadConstraints;
      expect(constraints).toContainEqual(expect.objectContaining({ topologyKey: 'kubernetes.io/hostname' }));
    }
  });

  it('routes / to the gateway with cookie affinity and long timeouts, /wechat to the webhook', () => {
    const gateway = find(objects, 'Ingress', 'qrgate-gateway');
    const annotations = gateway.metadata.annotations ?? {};
    expect(annotations['nginx.ingress.kubernetes.io/affinity']).toBe('cookie');
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(60);
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(60);
    const routes = objects
      .filter((o) => o.kind === 'Ingress')
      .flatMap((o) => spec(o).rules.flatMap((r: any) => r.http.paths.map((p: any) => [o.metadata.name, p.path, p.backend.service.name])));
    expect(routes).toContainEqual(['qrgate-gateway', '/', 'qrgate-gateway']);
    expect(routes).toContainEqual(['qrgate-webhook', '/wechat', 'qrgate-webhook']);
    for (const ingress of objects.filter((o) => o.kind === 'Ingress')) expect(spec(ingress).ingressClassName).toBe('nginx');
  });

  it('denies by default; admits only ingress-nginx (and Prometheus); egress only DNS, Redis and HTTPS', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const deny = find(objects, 'NetworkPolicy', 'qrgate-default-deny');
    expect(spec(deny)).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const sources = policies.flatMap((p) => (spec(p).ingress ?? []).flatMap((rule: any) => rule.from ?? [{}]));
    const namespaces = sources.map((s: any) => s.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name']);
    expect(new Set(namespaces)).toEqual(new Set(['ingress-nginx', 'monitoring']));
    const egressPorts = policies.flatMap((p) =>
      (spec(p).egress ?? []).flatMap((rule: any) => rule.ports.map((port: any) => `${port.protocol}/${port.port}`)),
    );
    expect(egressPorts.sort()).toEqual(['TCP/443', 'TCP/53', 'TCP/6379', 'UDP/53']);
  });

  it('takes credentials and Redis only from Secrets the operator creates, and commits none', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const name of ['qrgate-gateway', 'qrgate-webhook']) {
      const container = spec(find(objects, 'Deployment', name)).template.spec.containers[0];
      const secretRefs = container.env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.valueFrom.secretKeyRef.name);
      expect(new Set(secretRefs)).toEqual(new Set(['qrgate-secrets', 'qrgate-redis']));
      const env = containerEnv(container, objects, 'qrgate');
      // Proxies are trusted by address (issue 16, item 5): a list the schema accepts, never "believe anyone".
      const trustProxy = String(env.get('TRUST_PROXY')?.value);
      expect(loadConfig({ TRUST_PROXY: trustProxy }).TRUST_PROXY.length).toBeGreaterThan(0);
      expect(Number(env.get('SHUTDOWN_TIMEOUT_MS')?.value)).toBe(20_000);
      expect(container.lifecycle.preStop.exec.command).toEqual(['sleep', '5']);
    }
  });
});

describe('trial overlay', () => {
  const objects = kustomizeBuild('deploy/k8s/overlays/trial');

  it('adds the Redis component and points both apps at it instead of the qrgate-redis Secret', () => {
    expect(find(objects, 'StatefulSet', 'qrgate-redis').metadata.namespace).toBe('qrgate');
    expect(find(objects, 'Service', 'qrgate-redis')).toBeDefined();
    for (const name of ['qrgate-gateway', 'qrgate-webhook']) {
      const env: any[] = spec(find(objects, 'Deployment', name)).template.spec.containers[0].env;
      expect(env.find((e) => e.name === 'REDIS_URL')).toEqual({ name: 'REDIS_URL', value: 'redis://qrgate-redis:6379' });
      expect(env.some((e) => e.name === 'REDIS_CLUSTER_NODES' || e.valueFrom?.secretKeyRef?.name === 'qrgate-redis')).toBe(false);
    }
  });
});

describe('demo overlay', () => {
  const objects = kustomizeBuild('deploy/k8s/overlays/demo');

  it('runs one standalone process on the memory engine and the simulator, with no Secret', () => {
    const workloads = objects.filter((o) => podSpecOf(o) !== undefined);
    expect(workloads.map((o) => o.metadata.name)).toEqual(['qrgate-standalone']);
    const deployment = workloads[0]!;
    expect(spec(deployment).replicas).toBe(1);
    const container = spec(deployment).template.spec.containers[0];
    expect(container.args).toEqual(['node', 'dist/apps/standalone/main.js']);
    const env = containerEnv(container, objects, 'qrgate-demo');
    // The demo refuses to start next to any production setting (libs/config/demo-mode.ts).
    for (const name of [...PRODUCTION_ONLY_SETTINGS, 'WECHAT_APPID']) expect(env.has(name)).toBe(false);
    expect(JSON.stringify(objects)).not.toContain('secretKeyRef');
  });
});

describe('the policy catches broken manifests', () => {
  it('reports every fault of the broken fixture', () => {
    const violations = checkPolicy(readYaml('test/deploy/fixtures/broken.yaml'), { production: true });
    const c = 'Deployment/broken-gateway container gateway';
    expect(violations).toEqual(
      expect.arrayContaining([
        `${c}: no livenessProbe`,
        `${c}: no readinessProbe`,
        `${c}: no resources.requests.cpu`,
        `${c}: no resources.limits.memory`,
        `${c}: runAsNonRoot is not true`,
        `${c}: runs as root (runAsUser 0)`,
        `${c}: allowPrivilegeEscalation is not false`,
        `${c}: readOnlyRootFilesystem is not true`,
        `${c}: capabilities do not drop ALL`,
        `${c}: seccompProfile is not RuntimeDefault`,
        `${c}: image "registry.example.com/qrgate:latest" must be pinned to a version tag or digest, not latest`,
        `${c}: no preStop sleep (endpoints must be removed before the drain starts)`,
        `${c}: terminationGracePeriodSeconds 10 must exceed preStop 0 s + drain 10 s + 5 s hard-deadline margin`,
        'Deployment/broken-gateway: mounts a service account token (set automountServiceAccountToken: false)',
        'Deployment/broken-gateway: no HorizontalPodAutoscaler targets it',
        'Deployment/broken-gateway: no PodDisruptionBudget selects its pods',
        "Service/broken-gateway: selector matches no workload's pods",
      ]),
    );
  });

  it('flags an untagged image as latest', () => {
    const objects = kustomizeBuild('deploy/k8s/overlays/demo');
    spec(objects.find((o) => o.kind === 'Deployment')!).template.spec.containers[0].image = 'registry.example.com/qrgate';
    expect(checkPolicy(objects)).toEqual([
      'Deployment/qrgate-standalone container standalone: image "registry.example.com/qrgate" must be pinned to a version tag or digest, not latest',
    ]);
  });

  it('flags production without a PDB, or with replicas fighting the HPA', () => {
    const withoutPdb = kustomizeBuild('deploy/k8s/overlays/production').filter(
      (o) => !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'qrgate-webhook'),
    );
    expect(checkPolicy(withoutPdb, { production: true })).toEqual(['Deployment/qrgate-webhook: no PodDisruptionBudget selects its pods']);

    const withReplicas = kustomizeBuild('deploy/k8s/overlays/production');
    spec(find(withReplicas, 'Deployment', 'qrgate-gateway')).replicas = 3;
    expect(checkPolicy(withReplicas, { production: true })).toEqual([
      'Deployment/qrgate-gateway: sets spec.replicas although HorizontalPodAutoscaler/qrgate-gateway owns the count (every apply would reset it)',
    ]);
  });

  it('reads the drain deadline from the ConfigMap the pods load', () => {
    const objects = kustomizeBuild('deploy/k8s/overlays/production');
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('qrgate-config'))!;
    configMap.data!.SHUTDOWN_TIMEOUT_MS = '40000';
    expect(checkPolicy(objects, { production: true })).toEqual([
      'Deployment/qrgate-gateway container gateway: terminationGracePeriodSeconds 45 must exceed preStop 5 s + drain 40 s + 5 s hard-deadline margin',
      'Deployment/qrgate-webhook container webhook: terminationGracePeriodSeconds 45 must exceed preStop 5 s + drain 40 s + 5 s hard-deadline margin',
    ]);
  });

  it('flags a committed Secret value and an env var with both value and valueFrom', () => {
    const objects = kustomizeBuild('deploy/k8s/overlays/demo');
    objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'oops', namespace: 'qrgate-demo' }, data: { K: 'dg==' } });
    spec(objects.find((o) => o.kind === 'Deployment')!).template.spec.containers[0].env = [
      { name: 'LOG_LEVEL', value: 'info', valueFrom: { configMapKeyRef: { name: 'x', key: 'y' } } },
    ];
    expect(checkPolicy(objects).sort()).toEqual([
      'Deployment/qrgate-standalone container standalone: env LOG_LEVEL has both value and valueFrom',
      'Secret/oops: secret values must not be committed; reference a Secret the operator creates',
    ]);
  });
});

describe('metrics port (issue 16, item 8)', () => {
  it.each(overlays)('%s: every pod declares METRICS_PORT as its `metrics` port, and no Service or Ingress routes it', (overlay) => {
    const objects = kustomizeBuild(`deploy/k8s/overlays/${overlay}`);
    const workloads = objects.filter((o) => o.kind === 'Deployment' && String(o.metadata.name).startsWith('qrgate-'));
    expect(workloads.length).toBeGreaterThan(0);
    for (const workload of workloads) {
      for (const container of podSpecOf(workload)!.spec.containers as any[]) {
        const env = containerEnv(container, objects, String(workload.metadata.namespace));
        const metricsPort = Number(env.get('METRICS_PORT')?.value);
        expect(container.ports.find((p: any) => p.name === 'metrics')?.containerPort, `${workload.metadata.name}`).toBe(metricsPort);
        expect(metricsPort).not.toBe(Number(env.get('PORT')?.value));
      }
    }
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      for (const port of (service.spec as any).ports)
        expect([port.name, port.targetPort], `Service/${service.metadata.name}`).not.toContain('metrics');
    }
    for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
      expect(JSON.stringify(ingress.spec), `Ingress/${ingress.metadata.name}`).not.toMatch(/"metrics"|9464/);
    }
  });

  it('the PodMonitor scrapes the metrics port, and Prometheus may reach only that port', () => {
    const [monitor] = readYaml('deploy/observability/podmonitor.yaml') as any[];
    expect(monitor.spec.podMetricsEndpoints.map((e: any) => e.port)).toEqual(['metrics']);
    const policy = kustomizeBuild('deploy/k8s/overlays/production').find(
      (o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'qrgate-from-prometheus',
    )!;
    expect((policy.spec as any).ingress.flatMap((rule: any) => rule.ports.map((p: any) => p.port))).toEqual(['metrics']);
  });
});
