/**
 * The simulator's fault switch that scenario f relies on: `POST /sim/api/faults` makes every WeChat API call
 * slow and/or fail with an HTTP status, leaves the QR image host and the phone alone, and `{}` heals it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SIM_ACCOUNT, serveSim, type ServedSim } from '../wechat-sim/sim-harness.js';

const tokenBody = { grant_type: 'client_credential', appid: SIM_ACCOUNT.appId, secret: SIM_ACCOUNT.appSecret };
const post = (url: string, body: unknown): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('simulator fault switch', () => {
  let served: ServedSim | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  it('delays, then fails, then heals the API only', async () => {
    served = await serveSim();
    const { url } = served;
    expect((await post(`${url}/sim/api/faults`, { apiDelayMs: 300 })).status).toBe(200);
    const started = Date.now();
    const slow = await post(`${url}/cgi-bin/stable_token`, tokenBody);
    expect(slow.status).toBe(200);
    expect(((await slow.json()) as { access_token?: string }).access_token).toEqual(expect.any(String));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    expect((await post(`${url}/sim/api/faults`, { apiStatus: 500 })).status).toBe(200);
    expect((await post(`${url}/cgi-bin/stable_token`, tokenBody)).status).toBe(500);
    // The phone and the probes still answer: only WeChat's API is hurt.
    expect((await fetch(`${url}/sim/api/stats`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    expect((await post(`${url}/sim/api/faults`, {})).status).toBe(200);
    expect((await post(`${url}/cgi-bin/stable_token`, tokenBody)).status).toBe(200);
  });

  it('refuses a malformed switch', async () => {
    served = await serveSim();
    expect((await post(`${served.url}/sim/api/faults`, { apiStatus: 99 })).status).toBe(400);
    expect((await post(`${served.url}/sim/api/faults`, { apiDelayMs: -1 })).status).toBe(400);
  });
});
