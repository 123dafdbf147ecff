/**
 * Issue 16, item 8: `/metrics` is private whatever the spelling. Metrics live on their own port
 * (METRICS_PORT), which answers exactly `GET /metrics`; the public port has no metrics route under any
 * spelling (`/metrics/`, `/METRICS`, `/Metrics/`, an encoded letter), because the routers are strict and
 * case-sensitive and metrics are not mounted there at all. A METRICS_PORT equal to PORT is refused at start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { ConfigError, loadConfig } from '../../libs/config/index.js';
import { fetchText } from '../support/http.js';
import { startTestStandalone } from '../support/standalone.js';

let app: Standalone;
beforeAll(async () => {
  app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan' });
});
afterAll(async () => {
  await app?.close();
});

const SPELLINGS = ['/metrics', '/metrics/', '/METRICS', '/Metrics/', '/%6Detrics', '/metrics?x=1', '/metrics;', '//metrics'];

describe('metrics only on METRICS_PORT', () => {
  it('the public port answers 404 to every spelling of /metrics and serves no exposition', async () => {
    for (const spelling of SPELLINGS) {
      const res = await fetchText(`${app.url}${spelling}`);
      expect(res.status, spelling).toBe(404);
      expect(res.body, spelling).not.toContain('qrgate_tickets_created_total');
    }
  });

  it('the metrics port answers exactly GET /metrics', async () => {
    const res = await fetchText(`${app.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^qrgate_tickets_created_total \d+/m);
    for (const other of ['/metrics/', '/METRICS', '/', '/healthz', '/api/session']) {
      expect((await fetchText(`${app.metricsUrl}${other}`)).status, other).toBe(404);
    }
    expect((await fetchText(`${app.metricsUrl}/metrics`, { method: 'POST' })).status).toBe(404);
  });

  it('the public routers are strict: a trailing slash or another case is another path', async () => {
    expect((await fetchText(`${app.url}/healthz`)).status).toBe(200);
    for (const variant of ['/healthz/', '/HEALTHZ', '/.well-known/JWKS.json', '/.well-known/jwks.json/']) {
      expect((await fetchText(`${app.url}${variant}`)).status, variant).toBe(404);
    }
  });

  it('refuses METRICS_PORT equal to PORT, naming it', () => {
    expect(() => loadConfig({ PORT: '3000', METRICS_PORT: '3000' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '3000', METRICS_PORT: '3000' })).toThrow(/METRICS_PORT: must differ from PORT/);
    expect(loadConfig({}).METRICS_PORT).toBe(9464);
  });
});
