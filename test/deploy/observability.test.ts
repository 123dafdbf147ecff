/**
 * The dashboard and the alert rules query only metrics that exist: qrgate's own (from createMetrics,
 * the code the apps run) and prom-client's default process metrics. A renamed metric fails here instead
 * of leaving an empty panel or an alert that can never fire.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUSH_OUTCOMES } from '../../apps/webhook/push-verification.js';
import { createMetrics } from '../../libs/observability/metrics.js';
import { readYaml, repoRoot } from './manifests.js';

/** Series names a registry exposes (histograms as _bucket/_sum/_count), by metric family. */
async function exposedSeries(): Promise<{ all: Set<string>; qrgateFamilies: string[] }> {
  const metrics = await createMetrics().registry.getMetricsAsJSON();
  const all = new Set<string>();
  for (const metric of metrics) {
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) all.add(metric.name + suffix);
    else all.add(metric.name);
  }
  return { all, qrgateFamilies: metrics.map((m) => m.name).filter((n) => n.startsWith('qrgate_')) };
}

/** Metric names in a PromQL expression: identifiers followed by `{`, `[`, or a space/paren, minus PromQL words. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  const words = withoutStrings.match(/\b[a-z_][a-z0-9_]*(?=\s*[{[)\s]|$)/g) ?? [];
  return words.filter((w) => /^(qrgate|process|nodejs|kube)_/.test(w));
}

/** kube-state-metrics series the readiness alerts use; not exported by qrgate itself. */
const kubeStateMetrics = new Set(['kube_pod_status_ready', 'kube_pod_status_phase', 'kube_deployment_status_replicas_available']);

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy/observability/grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
};
const [prometheusRule] = readYaml('deploy/observability/prometheusrule.yaml');
if (prometheusRule === undefined) throw new Error('deploy/observability/prometheusrule.yaml holds no object');
const rules = ((prometheusRule.spec as { groups: { rules: Rule[] }[] }).groups ?? []).flatMap((g) => g.rules);

function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  for (const ch of expr.replace(/"[^"]*"/g, '""')) {
    if ('([{'.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0;
}

describe('metric name extraction', () => {
  it('finds metric names and ignores functions, labels and strings', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(qrgate_x_bucket{outcome="qrgate_y"}[5m])))')).toEqual([
      'qrgate_x_bucket',
    ]);
    expect(metricNames('process_open_fds / process_max_fds > 0.8')).toEqual(['process_open_fds', 'process_max_fds']);
  });
});

describe('Grafana dashboard', () => {
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  it('queries only metrics the apps expose, in balanced expressions', async () => {
    const { all } = await exposedSeries();
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) {
      expect(balanced(expr), expr).toBe(true);
      for (const name of metricNames(expr)) expect(all, `${name} in ${expr}`).toContain(name);
    }
  });

  it('charts every qrgate metric, plus process CPU and memory', async () => {
    const { qrgateFamilies } = await exposedSeries();
    const used = new Set(exprs.flatMap(metricNames).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    for (const family of [...qrgateFamilies, 'process_cpu_seconds_total', 'process_resident_memory_bytes']) {
      expect(used, family).toContain(family);
    }
  });

  it('has unique panel ids and a stable uid', () => {
    const ids = dashboard.panels.map((p) => (p as { id?: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toBe('qrgate-overview');
  });
});

describe('Prometheus alert rules', () => {
  it('has the alerts the runbook relies on', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'QrgateWebhookErrorRatioHigh',
        'QrgateGatewayNotReady',
        'QrgateLoginFunnelStalled',
        'QrgateWechatApiErrors',
        'QrgateScanToLoginSlow',
      ]),
    );
  });

  it('gives every rule an expression over known metrics, a for, a severity and a summary', async () => {
    const { all } = await exposedSeries();
    for (const rule of rules) {
      const where = rule.alert ?? '(unnamed)';
      expect(rule.alert, where).toMatch(/^Qrgate[A-Za-z]+$/);
      expect(rule.for, where).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], where).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, where).toBeTruthy();
      expect(balanced(rule.expr ?? ''), where).toBe(true);
      const names = metricNames(rule.expr ?? '');
      expect(names.length, where).toBeGreaterThan(0);
      for (const name of names) expect(all.has(name) || kubeStateMetrics.has(name), `${where}: ${name}`).toBe(true);
    }
  });

  it('matches only webhook outcomes the webhook really counts', () => {
    const used = rules.flatMap((r) => [...(r.expr ?? '').matchAll(/outcome=~?"([^"]*)"/g)].flatMap((m) => (m[1] ?? '').split('|')));
    expect(used.length).toBeGreaterThan(0);
    for (const outcome of used) expect(PUSH_OUTCOMES as readonly string[], outcome).toContain(outcome);
  });

  it('the funnel alert watches created against confirmed over 10 minutes', () => {
    const funnel = rules.find((r) => r.alert === 'QrgateLoginFunnelStalled');
    expect(funnel?.expr).toContain('qrgate_tickets_created_total[10m]');
    expect(funnel?.expr).toContain('qrgate_tickets_confirmed_total[10m]');
    expect(funnel?.for).toBe('10m');
  });
});
