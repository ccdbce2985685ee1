// Idempotent creates and merge-patch updates, against the real peers: retries and concurrent
// duplicates with one Idempotency-Key register exactly one client at oidc-provider (counted
// by the provider's own registration event); another body is 409; replayed tickets are stored
// sealed. PATCH is an RFC 7396 merge patch that keeps what it leaves out, secrets included,
// and drops connections only when the endpoint, the issuer or the client changes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CONFIDENTIAL, attach, code, count, createServer, startStack, ticketFor } from "./scenario.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { connectPerson, storedConfig } from "./platform.mjs";

let s, w;
let registrations = 0;

before(async () => {
  s = await startStack();
  w = s.w;
  s.as.provider.on("registration_create.success", () => {
    registrations += 1;
  });
});

after(async () => {
  await s?.close();
});

const createBody = (name) => ({ name, config: { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } } });
const post = (path, body, key) =>
  w.admin(path, { method: "POST", body, headers: key === undefined ? {} : { "idempotency-key": key } });

test("a retried create with the same key answers the stored response and registers one client", async () => {
  const before = registrations;
  const first = await post("/ai/mcp-servers", createBody("idem-1"), "key-create-1");
  assert.equal(first.status, 201, first.text);
  assert.equal(registrations, before + 1);
  // The same body with its members in another order and other white space is the same body.
  const body = createBody("idem-1");
  const reordered = JSON.stringify({ config: body.config, name: body.name }, null, 2);
  const retry = await post("/ai/mcp-servers", reordered, "key-create-1");
  assert.equal(retry.status, 201, retry.text);
  assert.equal(retry.headers.get("idempotent-replayed"), "true");
  assert.equal(retry.json.server.id, first.json.server.id);
  assert.deepEqual(retry.json, first.json);
  assert.equal(registrations, before + 1, "no second registration at the provider");
  assert.equal(await count(w, "servers", "name = ?1", "idem-1"), 1);

  const conflict = await post("/ai/mcp-servers", createBody("idem-other"), "key-create-1");
  assert.equal(conflict.status, 409);
  assert.equal(code(conflict), "idempotency_conflict");
  assert.equal(conflict.json.errors[0].path, "Idempotency-Key");
  assert.equal(await count(w, "servers", "name = ?1", "idem-other"), 0);

  // Without a key every create is a new one.
  const a = await post("/ai/mcp-servers", createBody("idem-nokey"));
  const b = await post("/ai/mcp-servers", createBody("idem-nokey"));
  assert.notEqual(a.json.server.id, b.json.server.id);
  assert.equal(registrations, before + 3);
});

test("concurrent duplicates with one key: one does the work, all get its answer", async () => {
  const before = registrations;
  const answers = await Promise.all([1, 2, 3].map(() => post("/ai/mcp-servers", createBody("idem-race"), "key-race")));
  for (const r of answers) assert.equal(r.status, 201, r.text);
  assert.equal(new Set(answers.map((r) => r.json.server.id)).size, 1);
  assert.equal(answers.filter((r) => r.headers.get("idempotent-replayed") === "true").length, 2);
  assert.equal(registrations, before + 1, "exactly one client registered");
  assert.equal(await count(w, "servers", "name = ?1", "idem-race"), 1);
});

test("a failed create keeps nothing under its key: the retry runs again", async () => {
  const bad = { name: "idem-bad", config: { endpoint: s.mcp.endpoint, auth: { type: "nope" } } };
  const r1 = await post("/ai/mcp-servers", bad, "key-bad");
  assert.equal(r1.status, 400);
  assert.equal(await count(w, "idempotency_keys", "key = ?1", "key-bad"), 0);
  const r2 = await post("/ai/mcp-servers", createBody("idem-bad"), "key-bad");
  assert.equal(r2.status, 201, r2.text);
});

test("session tickets: the replay is the same ticket, stored sealed", async () => {
  const body = { actor_id: "alice", agent_ids: ["a1"] };
  const t1 = await post("/ai/session-tickets", body, "key-ticket");
  assert.equal(t1.status, 201, t1.text);
  const t2 = await post("/ai/session-tickets", body, "key-ticket");
  assert.equal(t2.json.ticket, t1.json.ticket);
  assert.equal(t2.headers.get("idempotent-replayed"), "true");
  const row = await w.db.prepare("SELECT * FROM idempotency_keys WHERE key = ?1").bind("key-ticket").first();
  assert.ok(!JSON.stringify(row).includes(t1.json.ticket), "the stored answer is sealed");
  const other = await post("/ai/session-tickets", { ...body, agent_ids: ["a2"] }, "key-ticket");
  assert.equal(code(other), "idempotency_conflict");
  const badKey = await post("/ai/session-tickets", body, "x".repeat(256));
  assert.equal(badKey.status, 400);
  assert.equal(badKey.json.errors[0].path, "Idempotency-Key");
});

test("PATCH is a merge patch: fields left out stay, secrets stay, connections stay for a scope change", async () => {
  const before = registrations;
  const server = await createServer(w, "patch-me", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } }, ["agent-p"]);
  const stored = await storedConfig(w, server.id);
  await connectPerson(w, await ticketFor(w, "alice", ["agent-p"]), "agent-p", server.id);

  const rename = await w.admin(`/ai/mcp-servers/${server.id}`, { method: "PATCH", body: { name: "patched" } });
  assert.equal(rename.status, 200, rename.text);
  assert.equal(rename.json.name, "patched");
  assert.equal(rename.json.connections_dropped, false);
  assert.deepEqual(rename.json.config, server.config);

  // A config patch that copies the read-only flags back and changes the scopes only.
  const scopes = await w.admin(`/ai/mcp-servers/${server.id}`, {
    method: "PATCH",
    body: { config: { auth: { scopes: ["mcp:tools", "openid"], has_client_secret: true } } },
  });
  assert.equal(scopes.status, 200, scopes.text);
  assert.deepEqual(scopes.json.config.auth.scopes, ["mcp:tools", "openid"]);
  assert.equal(scopes.json.config.auth.client_id, server.config.auth.client_id);
  assert.equal(scopes.json.connections_dropped, false);
  assert.equal(await count(w, "connections", "server_id = ?1", server.id), 1);
  const after = await storedConfig(w, server.id);
  assert.equal(after.auth.client_secret, stored.auth.client_secret, "the secret stays");
  assert.equal(registrations, before + 1, "no new registration for a scope change");

  // A new client: connections dropped, and the answer says so.
  const client = await w.admin(`/ai/mcp-servers/${server.id}`, {
    method: "PATCH",
    body: { config: { auth: { client_id: null, client_secret: null, token_endpoint_auth_method: null } } },
  });
  assert.equal(client.status, 200, client.text);
  assert.notEqual(client.json.config.auth.client_id, server.config.auth.client_id);
  assert.equal(client.json.connections_dropped, true);
  assert.equal(await count(w, "connections", "server_id = ?1", server.id), 0);
  assert.equal(registrations, before + 2, "registered again by DCR");

  // null removes; a required field removed is refused with its path, nothing stored.
  const bad = await w.admin(`/ai/mcp-servers/${server.id}`, { method: "PATCH", body: { config: { endpoint: null } } });
  assert.equal(bad.status, 400);
  assert.ok(bad.json.errors.some((e) => e.path === "config.endpoint"), bad.text);
  const unknown = await w.admin(`/ai/mcp-servers/${server.id}`, { method: "PATCH", body: { nmae: "x" } });
  assert.equal(code(unknown), "unknown_field");
  assert.equal(unknown.json.errors[0].path, "nmae");
});

test("PATCH moving the endpoint re-discovers and drops connections", async (t) => {
  const server = await createServer(w, "patch-move", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } });
  await attach(w, "agent-m", server.id);
  await connectPerson(w, await ticketFor(w, "bob", ["agent-m"]), "agent-m", server.id);
  const second = await startMcpServer({ issuer: s.as.issuer });
  t.after(() => second.close());
  const moved = second.endpoint;
  const r = await w.admin(`/ai/mcp-servers/${server.id}`, { method: "PATCH", body: { config: { endpoint: moved } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.config.endpoint, moved);
  assert.equal(r.json.connections_dropped, true);
  assert.equal(await count(w, "connections", "server_id = ?1", server.id), 0);
});
