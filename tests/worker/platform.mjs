// Shared steps of the platform suites (tests/worker/platform-*.test.mjs): reading what the
// Worker sealed in D1 (with the test SEAL_KEY, independently of the Worker's code), using a
// refresh token at the provider directly, a person's whole consent, and a webhook receiver.
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { closeServer } from "../peers/auth-server.mjs";
import { DEV_BINDINGS } from "./harness.mjs";
import { callback, consentParams } from "./scenario.mjs";

/** Opens a value sealed by the Worker (v1.<base64url(nonce || ciphertext || tag)>). */
export function unseal(sealed, aad) {
  assert.ok(sealed.startsWith("v1."), "a sealed value");
  const key = Buffer.from(DEV_BINDINGS.SEAL_KEY, "base64");
  const raw = Buffer.from(sealed.slice(3), "base64url");
  const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString("utf8");
}

/** Seals a value the way the Worker does (for a test that edits a stored token set). */
export function seal(plain, aad) {
  const key = Buffer.from(DEV_BINDINGS.SEAL_KEY, "base64");
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(Buffer.from(plain, "utf8")), c.final(), c.getAuthTag()]);
  return `v1.${Buffer.concat([nonce, body]).toString("base64url")}`;
}

/** Makes a connection's access token expired (in its sealed token set, as time would). */
export async function expireAccessToken(w, serverId, actor) {
  const tokens = await storedTokens(w, serverId, actor);
  const sealed = seal(JSON.stringify({ ...tokens, expires_at: 1 }), `connection:${serverId}:${actor}:tokens`);
  await w.db
    .prepare("UPDATE connections SET tokens_sealed = ?1, expires_at = 1 WHERE server_id = ?2 AND actor_id = ?3")
    .bind(sealed, serverId, actor)
    .run();
}

/** The stored config of a server, secrets included. */
export async function storedConfig(w, id) {
  const row = await w.db.prepare("SELECT config_sealed FROM servers WHERE id = ?1").bind(id).first();
  return JSON.parse(unseal(row.config_sealed, `server:${id}:config`));
}

/** The stored token set of a connection. */
export async function storedTokens(w, serverId, actor) {
  const row = await w.db
    .prepare("SELECT tokens_sealed FROM connections WHERE server_id = ?1 AND actor_id = ?2")
    .bind(serverId, actor)
    .first();
  return row ? JSON.parse(unseal(row.tokens_sealed, `connection:${serverId}:${actor}:tokens`)) : undefined;
}

/** A refresh_token grant sent straight to the provider with the server's own client. */
export async function refreshAtProvider(w, issuer, serverId, refreshToken) {
  const { auth } = await storedConfig(w, serverId);
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken });
  if (auth.client_secret) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(auth.client_id)}:${encodeURIComponent(auth.client_secret)}`).toString("base64")}`;
  } else {
    form.set("client_id", auth.client_id);
  }
  const r = await fetch(`${issuer}/token`, { method: "POST", headers, body: form });
  return { status: r.status, json: await r.json() };
}

/** connect -> consent at the provider -> callback, asserting that it connected. */
export async function connectPerson(w, ticket, agent, id) {
  const params = await consentParams(w, ticket, agent, id);
  const cb = await callback(w, params);
  assert.equal(cb.status, 200, cb.text);
  assert.match(cb.text, /Connected/);
}

/**
 * A webhook receiver on 127.0.0.1: answers 500 to the first `failFirst` deliveries, then 204;
 * records every delivery with its raw body and headers.
 */
export async function startReceiver({ failFirst = 0 } = {}) {
  const deliveries = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const failed = deliveries.length < failFirst;
      deliveries.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), answered: failed ? 500 : 204 });
      res.writeHead(failed ? 500 : 204);
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    deliveries,
    close: () => closeServer(server),
  };
}

/** Polls `probe` until it returns a truthy value (or fails after `ms`). */
export async function eventually(probe, ms = 20000, what = "condition") {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
