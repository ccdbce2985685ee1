// A small in-memory storage adapter for oidc-provider, one per provider instance.
//
// oidc-provider's built-in memory adapter prints a "development-only" warning and caps its
// store at 1000 entries; this one is private to a test peer, unbounded, and forgets entries
// once they expire. It implements the adapter interface the provider expects: upsert, find,
// findByUid, findByUserCode, consume, destroy, revokeByGrantId.

/** Returns an adapter factory `(modelName) => adapter` backed by one private Map. */
export function createMemoryStore() {
  const entries = new Map(); // key -> {payload, expiresAt}
  const uids = new Map(); // session uid -> key
  const userCodes = new Map(); // user code -> key
  const grants = new Map(); // grant id -> Set of keys

  const read = (key) => {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  // An arrow function has no prototype, so oidc-provider calls it as a factory (not `new`).
  return (model) => {
    const keyOf = (id) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        const key = keyOf(id);
        const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : undefined;
        entries.set(key, { payload, expiresAt });
        if (model === "Session" && payload.uid) uids.set(payload.uid, key);
        if (payload.userCode) userCodes.set(payload.userCode, key);
        if (payload.grantId) {
          if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
          grants.get(payload.grantId).add(key);
        }
      },
      async find(id) {
        return read(keyOf(id));
      },
      async findByUid(uid) {
        const key = uids.get(uid);
        return key ? read(key) : undefined;
      },
      async findByUserCode(userCode) {
        const key = userCodes.get(userCode);
        return key ? read(key) : undefined;
      },
      async consume(id) {
        const payload = read(keyOf(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(keyOf(id));
      },
      async revokeByGrantId(grantId) {
        for (const key of grants.get(grantId) ?? []) entries.delete(key);
        grants.delete(grantId);
      },
    };
  };
}
