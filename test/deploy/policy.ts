/**
 * qrgate's deployment policy, checked on rendered manifests. Schema validation says an object is
 * well-formed; this says it is fit to run qrgate: probes, resources, a locked-down security context, a
 * grace period that outlasts the drain, autoscaling and disruption budgets in production, and no
 * references that point nowhere.
 */
import { loadConfig } from '../../libs/config/index.js';

/** A rendered Kubernetes object, as far as the checks read it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface PolicyOptions {
  /** Require an HPA and a PDB for every Deployment (the production overlays). Default false. */
  production?: boolean;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name?: string } }[];
  ports?: { name?: string; containerPort?: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  securityContext?: SecurityContext;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds?: number } } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; emptyDir?: unknown }[];
}
interface WorkloadSpec {
  replicas?: number;
  template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** Kubernetes' default grace period when a pod spec does not set one. */
const DEFAULT_GRACE_SECONDS = 30;

/**
 * The apps' main.ts pass `SHUTDOWN_TIMEOUT_MS + 5_000` to onShutdownSignal as the hard deadline, so a
 * drain may run this much past SHUTDOWN_TIMEOUT_MS before the process exits on its own.
 */
const HARD_DEADLINE_MARGIN_SECONDS = 5;

/** SHUTDOWN_TIMEOUT_MS's default, from the config schema itself so the two cannot drift apart. */
export const defaultShutdownTimeoutMs: number = loadConfig({}).SHUTDOWN_TIMEOUT_MS;

/** A qrgate container: its image is the qrgate image (any registry, tag or digest). */
export function isQrgateContainer(container: Container): boolean {
  return /(^|\/)qrgate([:@]|$)/.test(container.image ?? '');
}

/** The pod spec of a workload, or undefined for other kinds. */
export function podSpecOf(obj: K8sObject): { labels: Record<string, string>; spec: PodSpec } | undefined {
  if (!workloadKinds.has(obj.kind)) return undefined;
  const template = (obj.spec as WorkloadSpec | undefined)?.template;
  return { labels: template?.metadata?.labels ?? {}, spec: template?.spec ?? {} };
}

/** Every environment variable a container sees: `env` plus the keys of ConfigMaps it loads whole. */
export function containerEnv(container: Container, objects: readonly K8sObject[], namespace: string | undefined): Map<string, EnvVar> {
  const env = new Map<string, EnvVar>();
  for (const from of container.envFrom ?? []) {
    const name = from.configMapRef?.name;
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name && o.metadata.namespace === namespace);
    for (const [key, value] of Object.entries(configMap?.data ?? {})) env.set(key, { name: key, value });
  }
  for (const variable of container.env ?? []) env.set(variable.name, variable);
  return env;
}

const key = (obj: K8sObject) => `${obj.kind}/${obj.metadata.name}`;
const sameNamespace = (a: K8sObject, b: K8sObject) => a.metadata.namespace === b.metadata.namespace;

/** True when every matchLabels pair is among `labels` (matchExpressions are not used by qrgate). */
function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  const pairs = Object.entries(selector?.matchLabels ?? {});
  if (pairs.length === 0 || (selector?.matchExpressions?.length ?? 0) > 0) return false;
  return pairs.every(([k, v]) => labels[k] === v);
}

function preStopSeconds(container: Container): number | undefined {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep?.seconds !== undefined) return preStop.sleep.seconds;
  const command = preStop?.exec?.command;
  if (command?.[0] === 'sleep' && command.length === 2) return Number(command[1]);
  return undefined;
}

function checkContainer(where: string, container: Container, pod: PodSpec, violations: string[]): void {
  const image = container.image ?? '';
  const tagged = /@sha256:[0-9a-f]{64}$/.test(image) || /:[^/:]+$/.test(image);
  if (image === '') violations.push(`${where}: no image`);
  else if (!tagged || image.endsWith(':latest'))
    violations.push(`${where}: image "${image}" must be pinned to a version tag or digest, not latest`);

  if (container.livenessProbe === undefined) violations.push(`${where}: no livenessProbe`);
  if (container.readinessProbe === undefined) violations.push(`${where}: no readinessProbe`);

  for (const kind of ['requests', 'limits'] as const) {
    for (const resource of ['cpu', 'memory']) {
      if (container.resources?.[kind]?.[resource] === undefined) violations.push(`${where}: no resources.${kind}.${resource}`);
    }
  }

  const own = container.securityContext ?? {};
  const podLevel = pod.securityContext ?? {};
  if ((own.runAsNonRoot ?? podLevel.runAsNonRoot) !== true) violations.push(`${where}: runAsNonRoot is not true`);
  if ((own.runAsUser ?? podLevel.runAsUser) === 0) violations.push(`${where}: runs as root (runAsUser 0)`);
  if (own.allowPrivilegeEscalation !== false) violations.push(`${where}: allowPrivilegeEscalation is not false`);
  if (own.privileged === true) violations.push(`${where}: privileged`);
  if (own.readOnlyRootFilesystem !== true) violations.push(`${where}: readOnlyRootFilesystem is not true`);
  if (!(own.capabilities?.drop ?? []).includes('ALL')) violations.push(`${where}: capabilities do not drop ALL`);
  if ((own.capabilities?.add ?? []).length > 0) violations.push(`${where}: adds capabilities`);
  const seccomp = (own.seccompProfile ?? podLevel.seccompProfile)?.type;
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') violations.push(`${where}: seccompProfile is not RuntimeDefault`);

  if (own.readOnlyRootFilesystem === true) {
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    const volume = pod.volumes?.find((v) => v.name === tmp?.name);
    if (volume?.emptyDir === undefined) violations.push(`${where}: read-only root filesystem without an emptyDir at /tmp`);
  }

  for (const variable of container.env ?? []) {
    if (variable.value !== undefined && variable.valueFrom !== undefined) {
      violations.push(`${where}: env ${variable.name} has both value and valueFrom`);
    }
  }
}

/**
 * Check rendered objects against qrgate's deployment policy. Returns one line per violation, each
 * naming the object (and container) at fault; an empty list means the manifests pass.
 */
export function checkPolicy(objects: readonly K8sObject[], options: PolicyOptions = {}): string[] {
  const violations: string[] = [];

  for (const obj of objects) {
    if (obj.kind === 'Secret' && (obj.data !== undefined || obj.stringData !== undefined)) {
      violations.push(`${key(obj)}: secret values must not be committed; reference a Secret the operator creates`);
    }

    const pod = podSpecOf(obj);
    if (pod === undefined) continue;
    const { spec } = pod;
    const containers = spec.containers ?? [];

    const serviceAccount = objects.find(
      (o) => o.kind === 'ServiceAccount' && o.metadata.name === (spec.serviceAccountName ?? 'default') && sameNamespace(o, obj),
    ) as (K8sObject & { automountServiceAccountToken?: boolean }) | undefined;
    if (spec.automountServiceAccountToken !== false && serviceAccount?.automountServiceAccountToken !== false) {
      violations.push(`${key(obj)}: mounts a service account token (set automountServiceAccountToken: false)`);
    }

    for (const container of [...(spec.initContainers ?? []), ...containers]) {
      checkContainer(`${key(obj)} container ${container.name}`, container, spec, violations);
    }

    for (const container of containers.filter(isQrgateContainer)) {
      const where = `${key(obj)} container ${container.name}`;
      const preStop = preStopSeconds(container);
      if (preStop === undefined) violations.push(`${where}: no preStop sleep (endpoints must be removed before the drain starts)`);
      const timeout = containerEnv(container, objects, obj.metadata.namespace).get('SHUTDOWN_TIMEOUT_MS')?.value;
      const drainSeconds = (timeout === undefined ? defaultShutdownTimeoutMs : Number(timeout)) / 1000;
      const grace = spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
      const needed = drainSeconds + HARD_DEADLINE_MARGIN_SECONDS + (preStop ?? 0);
      if (grace <= needed) {
        violations.push(
          `${where}: terminationGracePeriodSeconds ${grace} must exceed preStop ${preStop ?? 0} s + drain ${drainSeconds} s + ${HARD_DEADLINE_MARGIN_SECONDS} s hard-deadline margin`,
        );
      }
    }

    if (options.production === true && obj.kind === 'Deployment') {
      const hpa = objects.find((o) => {
        const target = (o.spec as { scaleTargetRef?: { kind?: string; name?: string } } | undefined)?.scaleTargetRef;
        return (
          o.kind === 'HorizontalPodAutoscaler' &&
          sameNamespace(o, obj) &&
          target?.kind === 'Deployment' &&
          target.name === obj.metadata.name
        );
      });
      if (hpa === undefined) violations.push(`${key(obj)}: no HorizontalPodAutoscaler targets it`);
      else if ((obj.spec as WorkloadSpec).replicas !== undefined) {
        violations.push(`${key(obj)}: sets spec.replicas although ${key(hpa)} owns the count (every apply would reset it)`);
      }
      const pdb = objects.find(
        (o) =>
          o.kind === 'PodDisruptionBudget' &&
          sameNamespace(o, obj) &&
          selectorMatches((o.spec as { selector?: LabelSelector } | undefined)?.selector, pod.labels),
      );
      if (pdb === undefined) violations.push(`${key(obj)}: no PodDisruptionBudget selects its pods`);
    }
  }

  checkReferences(objects, violations);
  return violations;
}

/** Services must select some pods and name a port they expose; Ingress backends must exist. */
function checkReferences(objects: readonly K8sObject[], violations: string[]): void {
  const pods = objects.flatMap((o) => {
    const pod = podSpecOf(o);
    return pod === undefined ? [] : [{ owner: o, ...pod }];
  });

  for (const service of objects.filter((o) => o.kind === 'Service')) {
    const spec = service.spec as
      | { selector?: Record<string, string>; ports?: { name?: string; targetPort?: string | number }[] }
      | undefined;
    const targets = pods.filter((p) => sameNamespace(p.owner, service) && selectorMatches({ matchLabels: spec?.selector ?? {} }, p.labels));
    if (targets.length === 0) {
      violations.push(`${key(service)}: selector matches no workload's pods`);
      continue;
    }
    for (const port of spec?.ports ?? []) {
      if (typeof port.targetPort !== 'string') continue;
      const exposed = targets.some((t) => (t.spec.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort)));
      if (!exposed) violations.push(`${key(service)}: targetPort "${port.targetPort}" is no container port name`);
    }
  }

  for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
    const rules = (
      ingress.spec as { rules?: { http?: { paths?: { backend?: { service?: { name?: string; port?: { name?: string } } } }[] } }[] }
    )?.rules;
    for (const path of (rules ?? []).flatMap((r) => r.http?.paths ?? [])) {
      const backend = path.backend?.service;
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === backend?.name && sameNamespace(o, ingress));
      const ports = (service?.spec as { ports?: { name?: string }[] } | undefined)?.ports ?? [];
      if (service === undefined) violations.push(`${key(ingress)}: backend Service "${backend?.name}" does not exist`);
      else if (backend?.port?.name !== undefined && !ports.some((p) => p.name === backend.port?.name)) {
        violations.push(`${key(ingress)}: Service ${backend.name} has no port "${backend.port.name}"`);
      }
    }
  }
}
