/**
 * oidc-provider's storage on qrgate's engine: the same adapter over the memory engine (`npm start`) and over
 * Redis or Redis Cluster, because it only uses the engine's key-value store, whose every operation touches one
 * key. Keys are hash-tagged (`{Model:id}`) so a record and its consumed mark share a cluster slot.
 *
 * Layout (inside the engine's kv namespace):
 * - `oidc:{<Model>:<id>}`            the payload as JSON, expiring with the model's TTL;
 * - `oidc:{<Model>:<id>}:consumed`   the consumed mark (single-use codes, rotated refresh tokens);
 * - `oidc:{uid:<uid>}` / `oidc:{userCode:<code>}`  index entries pointing at a Session / DeviceCode id;
 * - `oidc:{grant:<grantId>}:<Model>` the ids of one model issued under a grant, for `revokeByGrantId`.
 *
 * `consume` is atomic: the mark is written with set-if-absent, so of two requests redeeming one code at once
 * exactly one passes; the other fails with `invalid_grant` (oidc-provider itself only checks the mark it read
 * earlier, which both would have seen unset). Revoking a grant deletes key by key, never in one multi-key
 * command, which Redis Cluster would refuse across slots (see open-condo-software/condo PR #6201).
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { KeyValueStore } from '../engine/index.js';

/** The key-value operations the adapter needs: a subset of the engine's `kv`. */
export type OidcKeyValue = Pick<KeyValueStore, 'get' | 'set' | 'setIfAbsent' | 'delete' | 'addToSet' | 'setMembers'>;

/** Lifetime of a record whose model has no TTL (oidc-provider gives every model one; this is a safety net). */
const FALLBACK_TTL_SECONDS = 14 * 24 * 3600;

interface StoredRecord {
  payload: AdapterPayload;
  /** Epoch ms at which the record expires (the consumed mark must not outlive it). */
  expiresAt: number;
}

const recordKey = (model: string, id: string): string => `oidc:{${model}:${id}}`;
const consumedKey = (model: string, id: string): string => `${recordKey(model, id)}:consumed`;
const uidKey = (uid: string): string => `oidc:{uid:${uid}}`;
const userCodeKey = (userCode: string): string => `oidc:{userCode:${userCode}}`;
const grantKey = (grantId: string, model: string): string => `oidc:{grant:${grantId}}:${model}`;

/**
 * An adapter factory for oidc-provider's `adapter` setting: `new Provider(issuer, { adapter: engineOidcAdapter(kv) })`.
 * `now` is the clock (epoch ms), for tests.
 */
export function engineOidcAdapter(kv: OidcKeyValue, now: () => number = Date.now): (model: string) => Adapter {
  return (model: string): Adapter => {
    async function read(id: string): Promise<StoredRecord | undefined> {
      const text = await kv.get(recordKey(model, id));
      if (text === null) return undefined;
      return JSON.parse(text) as StoredRecord;
    }

    async function find(id: string): Promise<AdapterPayload | undefined> {
      const record = await read(id);
      if (record === undefined) return undefined;
      const consumed = await kv.get(consumedKey(model, id));
      return consumed === null ? record.payload : { ...record.payload, consumed: Number(consumed) };
    }

    async function findVia(indexKey: string): Promise<AdapterPayload | undefined> {
      const id = await kv.get(indexKey);
      return id === null ? undefined : find(id);
    }

    return {
      async upsert(id, payload, expiresIn) {
        const ttlMs = (expiresIn !== undefined && expiresIn > 0 ? expiresIn : FALLBACK_TTL_SECONDS) * 1000;
        const record: StoredRecord = { payload, expiresAt: now() + ttlMs };
        // The indexes first: a record is never findable by id while its grant index could still miss it.
        if (typeof payload.grantId === 'string') await kv.addToSet(grantKey(payload.grantId, model), id, ttlMs);
        if (typeof payload.uid === 'string') await kv.set(uidKey(payload.uid), id, ttlMs);
        if (typeof payload.userCode === 'string') await kv.set(userCodeKey(payload.userCode), id, ttlMs);
        await kv.set(recordKey(model, id), JSON.stringify(record), ttlMs);
      },
      find,
      findByUid: (uid) => findVia(uidKey(uid)),
      findByUserCode: (userCode) => findVia(userCodeKey(userCode)),
      async consume(id) {
        const record = await read(id);
        if (record === undefined) throw new errors.InvalidGrant('grant source not found');
        const ttlMs = Math.max(1_000, record.expiresAt - now());
        const first = await kv.setIfAbsent(consumedKey(model, id), String(Math.floor(now() / 1000)), ttlMs);
        // Lost a race with another redemption of the same code or refresh token: only one may pass.
        if (!first) throw new errors.InvalidGrant(`${model === 'RefreshToken' ? 'refresh token' : 'authorization code'} already consumed`);
      },
      async destroy(id) {
        await kv.delete(recordKey(model, id));
        await kv.delete(consumedKey(model, id));
      },
      async revokeByGrantId(grantId) {
        const key = grantKey(grantId, model);
        // One key at a time: on a cluster the records live in as many slots as they have ids.
        for (const id of await kv.setMembers(key)) {
          await kv.delete(recordKey(model, id));
          await kv.delete(consumedKey(model, id));
        }
        await kv.delete(key);
      },
    };
  };
}
