/**
 * The contract of qrgate's oidc-provider adapter (libs/oidc/engine-oidc-adapter.ts) as one vitest suite, run on
 * every engine: the memory engine, a private Redis and a private Redis Cluster. Two engines over one store stand
 * for two gateways, so what one writes the other must find, and of two redemptions of one code exactly one wins.
 */
import { randomBytes } from 'node:crypto';
import { errors, type Adapter } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../libs/engine/index.js';
import { engineOidcAdapter } from '../../libs/oidc/index.js';
import { eventually, type EngineContractFixture, type EngineContractSetup } from './engine-contract.js';

const id = (): string => randomBytes(16).toString('base64url');

export function oidcAdapterContract(name: string, setup: EngineContractSetup): void {
  describe(`oidc adapter contract: ${name}`, () => {
    let fixture: EngineContractFixture | undefined;
    let a: Engine;
    let b: Engine;
    /** The adapter of `model` as gateway A and as gateway B see it. */
    const adapters = (model: string): [Adapter, Adapter] => [engineOidcAdapter(a.kv)(model), engineOidcAdapter(b.kv)(model)];

    beforeAll(async () => {
      fixture = await setup([{}, {}]);
      [a, b] = fixture.engines;
    });
    afterAll(async () => {
      await fixture?.cleanup();
    });

    it('finds on one gateway what the other stored, and nothing unknown', async () => {
      const [onA, onB] = adapters('AccessToken');
      const jti = id();
      await onA.upsert(jti, { accountId: 'o_1', clientId: 'shop', grantId: id() }, 60);
      expect(await onB.find(jti)).toEqual({ accountId: 'o_1', clientId: 'shop', grantId: expect.any(String) });
      expect(await onB.find(id())).toBeUndefined();
      // Models do not see each other's records under the same id.
      expect(await engineOidcAdapter(b.kv)('RefreshToken').find(jti)).toBeUndefined();
    });

    it('forgets a record when its expiresIn has passed', async () => {
      const [onA, onB] = adapters('AuthorizationCode');
      const jti = id();
      await onA.upsert(jti, { accountId: 'o_2' }, 1);
      expect(await onB.find(jti)).toBeDefined();
      await eventually(async () => (await onB.find(jti)) === undefined, 5_000);
    });

    it('finds a session by uid and a device code by user code, until destroyed', async () => {
      const [onA, onB] = adapters('Session');
      const sessionId = id();
      const uid = id();
      await onA.upsert(sessionId, { uid, accountId: 'o_3' }, 60);
      expect(await onB.findByUid(uid)).toMatchObject({ uid, accountId: 'o_3' });
      expect(await onB.findByUid(id())).toBeUndefined();
      await onB.destroy(sessionId);
      expect(await onA.findByUid(uid)).toBeUndefined();
      expect(await onA.find(sessionId)).toBeUndefined();

      const [deviceA, deviceB] = adapters('DeviceCode');
      const userCode = 'ABCD-EFGH';
      const device = id();
      await deviceA.upsert(device, { userCode, clientId: 'tv' }, 60);
      expect(await deviceB.findByUserCode(userCode)).toMatchObject({ clientId: 'tv' });
    });

    it('consumes once: the record reads as consumed, and of concurrent redemptions exactly one passes', async () => {
      const [onA, onB] = adapters('AuthorizationCode');
      const jti = id();
      await onA.upsert(jti, { accountId: 'o_4', grantId: id() }, 60);
      expect((await onB.find(jti))?.consumed).toBeUndefined();
      const outcomes = await Promise.allSettled([onA.consume(jti), onB.consume(jti), onA.consume(jti), onB.consume(jti)]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const lost of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
        expect(lost.reason).toBeInstanceOf(errors.InvalidGrant);
      }
      expect((await onA.find(jti))?.consumed).toEqual(expect.any(Number));
      // A code nobody stored cannot be consumed either.
      await expect(onB.consume(id())).rejects.toBeInstanceOf(errors.InvalidGrant);
    });

    it('revokes by grant: every record of that model under the grant, on any slot, and nothing else', async () => {
      const [tokensA, tokensB] = adapters('AccessToken');
      const [refreshA] = adapters('RefreshToken');
      const grant = id();
      const other = id();
      const revoked = [id(), id(), id()];
      const kept = id();
      const refresh = id();
      await Promise.all(revoked.map((jti, i) => (i % 2 ? tokensA : tokensB).upsert(jti, { grantId: grant }, 60)));
      await tokensA.upsert(kept, { grantId: other }, 60);
      await refreshA.upsert(refresh, { grantId: grant }, 60);
      await tokensB.revokeByGrantId(grant);
      for (const jti of revoked) expect(await tokensA.find(jti)).toBeUndefined();
      expect(await tokensA.find(kept)).toBeDefined();
      // Each model's adapter revokes its own records (oidc-provider calls revokeByGrantId on each model).
      expect(await refreshA.find(refresh)).toBeDefined();
      await engineOidcAdapter(b.kv)('RefreshToken').revokeByGrantId(grant);
      expect(await refreshA.find(refresh)).toBeUndefined();
    });

    it('replaces a record on upsert with the same id', async () => {
      const [onA, onB] = adapters('Grant');
      const grantId = id();
      await onA.upsert(grantId, { accountId: 'o_5', clientId: 'shop' }, 60);
      await onB.upsert(grantId, { accountId: 'o_5', clientId: 'shop', openid: { scope: 'openid' } } as never, 60);
      expect(await onA.find(grantId)).toMatchObject({ openid: { scope: 'openid' } });
    });
  });
}
