/**
 * The OpenAPI document (libs/protocol/openapi.ts) against the code: it is a valid OpenAPI 3.1 document, the
 * gateway serves it, and for each app the (method, path) pairs its koa-router stacks really register are
 * exactly the operations the document tags with that app. A route added, removed or renamed without the
 * document (or the other way round) fails here.
 */
import type Router from '@koa/router';
import { Validator } from '@seriousme/openapi-schema-validator';
import type Koa from 'koa';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { createWebhook } from '../../apps/webhook/index.js';
import { createMemoryEngine } from '../../libs/engine/index.js';
import { createMetrics } from '../../libs/observability/index.js';
import { OPENAPI_APP_TAGS, OPENAPI_DOCUMENT, OPENAPI_ROUTE, type OpenApiAppTag, type OpenApiMethod } from '../../libs/protocol/index.js';
import { startTestStandalone } from '../support/standalone.js';

/** `GET /healthz` style keys of every route a Koa app's routers register (HEAD is koa-router's automatic twin of GET). */
function registeredRoutes(app: Koa): string[] {
  const routes = new Set<string>();
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: Router }).router;
    if (router === undefined) continue;
    for (const layer of router.stack) {
      for (const method of layer.methods) {
        // koa-router writes a path parameter `:uid`, OpenAPI `{uid}`.
        if (method !== 'HEAD') routes.add(`${method} ${String(layer.path).replace(/:([A-Za-z_]\w*)/g, '{$1}')}`);
      }
    }
  }
  return [...routes].sort();
}

function documentedRoutes(tag: OpenApiAppTag): string[] {
  const routes: string[] = [];
  for (const [path, item] of Object.entries(OPENAPI_DOCUMENT.paths)) {
    for (const [method, operation] of Object.entries(item) as [OpenApiMethod, { tags: OpenApiAppTag[] }][]) {
      if (operation.tags.includes(tag)) routes.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return routes.sort();
}

let standalone: Standalone;
const apps = {} as Record<OpenApiAppTag, Koa>;
const engine = createMemoryEngine();

beforeAll(async () => {
  standalone = await startTestStandalone();
  if (standalone.sim === undefined) throw new Error('the demo standalone has a simulator');
  apps.gateway = standalone.gateway.app;
  apps['wechat-sim'] = standalone.sim.app;
  apps.webhook = createWebhook({
    engine,
    config: { token: 'drift-token', appId: 'wxdrift', requireEncryption: false, maxSkewSeconds: 300, confirmation: 'scan' },
    logger: pino({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
  });
});
afterAll(async () => {
  await standalone?.close();
  await engine.close();
});

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document whose references all resolve', async () => {
    const result = await new Validator().validate(structuredClone(OPENAPI_DOCUMENT) as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const refs = JSON.stringify(OPENAPI_DOCUMENT).match(/#\/components\/schemas\/[A-Za-z]+/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const target of refs) expect(OPENAPI_DOCUMENT.components.schemas).toHaveProperty(target.split('/').pop()!);
    const ids = Object.values(OPENAPI_DOCUMENT.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is served by the gateway at /openapi.json', async () => {
    const res = await fetch(`${standalone.url}${OPENAPI_ROUTE}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
  });

  for (const tag of OPENAPI_APP_TAGS) {
    it(`lists exactly the routes the ${tag} app registers`, () => {
      const registered = registeredRoutes(apps[tag]);
      // A walk that finds nothing would make the comparison vacuous.
      expect(registered.length).toBeGreaterThan(2);
      expect(documentedRoutes(tag)).toEqual(registered);
    });
  }
});
