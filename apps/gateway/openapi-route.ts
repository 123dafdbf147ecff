/**
 * `GET /openapi.json`: the OpenAPI 3.1 description of every qrgate HTTP endpoint (libs/protocol/openapi.ts),
 * public and cacheable, so integrators and tools read the contract from the running gateway.
 */
import type Router from '@koa/router';
import { OPENAPI_DOCUMENT, OPENAPI_ROUTE } from '../../libs/protocol/index.js';

/** Mount the document route; the body is serialised once. */
export function mountOpenApi(router: Router): void {
  const body = JSON.stringify(OPENAPI_DOCUMENT);
  router.get(OPENAPI_ROUTE, (ctx) => {
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = body;
  });
}
