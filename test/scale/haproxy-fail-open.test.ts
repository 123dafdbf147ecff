/**
 * deploy/haproxy/haproxy.cfg fails open: when every gateway (or every webhook) fails its health check at the same
 * moment — an overload, each event loop too busy to answer `/readyz` in time — HAProxy keeps sending requests to
 * them instead of answering 503 itself, and a process that really is gone is skipped by redispatch. The backends
 * here are small HTTP servers whose `/readyz` the test turns on and off, so "all checks failing" is exact; the
 * configuration is the shipped one, unchanged.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHaproxy, type Haproxy } from '../support/cluster.js';
import { eventually } from '../support/engine-contract.js';

/** A backend that names itself on every path, and whose `/readyz` answers 200 or 503 as told. */
interface FakeBackend {
  name: string;
  port: number;
  ready: boolean;
  /** Health checks answered 503 so far. */
  failedChecks: number;
  server: Server;
}

async function fakeBackend(name: string): Promise<FakeBackend> {
  const backend: FakeBackend = { name, port: 0, ready: true, failedChecks: 0, server: createServer() };
  backend.server.on('request', (req, res) => {
    req.resume();
    if (req.url === '/readyz') {
      if (!backend.ready) backend.failedChecks += 1;
      res.writeHead(backend.ready ? 200 : 503).end(backend.ready ? 'ready' : 'not ready');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(backend.name);
  });
  await new Promise<void>((resolve) => backend.server.listen(0, '127.0.0.1', resolve));
  backend.port = (backend.server.address() as AddressInfo).port;
  return backend;
}

const close = (backend: FakeBackend): Promise<void> =>
  new Promise((resolve) => {
    backend.server.closeAllConnections();
    backend.server.close(() => resolve());
  });

describe('HAProxy fails open when every server fails its check at once', () => {
  let gateways: FakeBackend[] = [];
  let webhooks: FakeBackend[] = [];
  let haproxy: Haproxy | undefined;

  beforeAll(async () => {
    gateways = await Promise.all(['gw1', 'gw2', 'gw3'].map(fakeBackend));
    webhooks = await Promise.all(['wh1', 'wh2'].map(fakeBackend));
    haproxy = await startHaproxy({ gateways, webhooks });
  });
  afterAll(async () => {
    await haproxy?.stop();
    await Promise.all([...gateways, ...webhooks].map((b) => (b.server.listening ? close(b) : undefined)));
  });

  /** The answers to `count` requests for `path` through HAProxy, as `status body`. */
  const ask = async (path: string, count: number, init: RequestInit = {}): Promise<string[]> => {
    const answers: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await fetch(`${haproxy!.url}${path}`, init);
      answers.push(`${res.status} ${(await res.text()).trim()}`);
    }
    return answers;
  };
  /** Whether HAProxy itself answers that no server is available (the checked backend with every server down). */
  const lbRefuses = async (path: string, init: RequestInit = {}): Promise<boolean> => {
    const res = await fetch(`${haproxy!.url}${path}`, init);
    return res.status === 503 && (await res.text()).includes('No server is available');
  };

  it('routes to the checked servers while any passes, and to all of them without checks while none does', async () => {
    // One gateway failing its check: only the other two get requests.
    gateways[0]!.ready = false;
    await eventually(async () => !(await ask('/login', 6)).includes('200 gw1'));
    expect(new Set(await ask('/login', 6))).toEqual(new Set(['200 gw2', '200 gw3']));

    // All three failing: the same servers are used without checks, never HAProxy's own 503.
    for (const gateway of gateways) gateway.ready = false;
    await eventually(async () => (await ask('/login', 6)).includes('200 gw1'), 10_000);
    for (let i = 0; i < 10; i++) expect(await lbRefuses('/login')).toBe(false);
    expect(new Set(await ask('/login', 9))).toEqual(new Set(['200 gw1', '200 gw2', '200 gw3']));

    // One of them really dead meanwhile: its connection is refused and the request moves to a live one.
    await close(gateways[0]!);
    const answers = await ask('/login', 9);
    expect(answers.every((a) => a === '200 gw2' || a === '200 gw3')).toBe(true);

    // One passes again: checks are back in charge, and only it gets requests.
    gateways[1]!.ready = true;
    await eventually(async () => (await ask('/login', 6)).every((a) => a === '200 gw2'), 10_000);
  });

  it('does the same for WeChat pushes to the webhooks', async () => {
    const push = { method: 'POST', body: '<xml/>' };
    for (const webhook of webhooks) webhook.ready = false;
    // `fall 2`: once each has failed three checks in a row, HAProxy holds both down.
    await eventually(() => webhooks.every((w) => w.failedChecks >= 3), 10_000);
    for (let i = 0; i < 6; i++) expect(await lbRefuses('/wechat', push)).toBe(false);
    expect(new Set(await ask('/wechat', 6, push))).toEqual(new Set(['200 wh1', '200 wh2']));
  });
});
