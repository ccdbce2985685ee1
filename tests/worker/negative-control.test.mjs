// Negative end-to-end cases of the control plane, against the real peers: the shared config
// vectors that expect errors, auth_required, pagination bounds, unknown ids, DELETE's cascade,
// idempotent attach/detach, and PATCH (a new config is re-hydrated and drops the connections
// made under the old one; a bad one changes nothing).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configVectors } from "../node/fixtures.mjs";
import {
  CONFIDENTIAL,
  PUBLIC,
  accessToken,
  attach,
  callback,
  code,
  connect,
  consentParams,
  count,
  createServer,
  flowStatus,
  entry,
  registerClient,
  snapshot,
  startStack,
  status,
  ticketFor,
} from "./scenario.mjs";

let s, w;

before(async () => {
  s = await startStack();
  w = s.w;
});

after(() => s?.close());

const servers = "/ai/mcp-servers";
const tokenConfig = (n) => ({ endpoint: s.endpoint, auth: { type: "token", auth_token: `tok-${n}` } });

// The endpoints of these vectors are public hosts: they must be refused by validation, before
// any request. Where the npm package is built, it confirms that first (the Worker validates
// with the same core), so a regression could not make this suite contact anything.
let validate;
try {
  ({ validateServerConfig: validate } = await import("mcp-authlink"));
} catch {
  validate = undefined;
}

test("create with each shared config vector that expects errors: 400 invalid_request with those errors, nothing stored", async () => {
  const vectors = configVectors().filter((v) => v.file.includes("/shared/") && v.expect_errors);
  assert.ok(vectors.length >= 8, `expected the shared config vectors, found ${vectors.length}`);
  const before = await snapshot(w);
  for (const v of vectors) {
    if (validate) assert.equal(validate(v.input).ok, false, `${v.name} must fail validation`);
    const r = await w.admin(servers, { method: "POST", body: v.input });
    assert.equal(r.status, 400, `${v.name}: ${r.text}`);
    const [head, ...errors] = r.json.errors;
    assert.equal(head.code, "invalid_request", v.name);
    assert.match(head.message, new RegExp(`${errors.length} problem`));
    for (const want of v.expect_errors) {
      const hit = errors.find((e) => e.code === want.code && (want.path === undefined || e.path === want.path));
      assert.ok(hit, `${v.name}: expected ${JSON.stringify(want)} in ${r.text}`);
      assert.ok(hit.message.length > 10, `${v.name}: a message naming the fix`);
    }
    for (const e of errors) assert.ok(e.path !== undefined && e.code && e.message, JSON.stringify(e));
  }
  assert.deepEqual(await snapshot(w), before);
});

test("create without auth for a server that requires it: 400 auth_required with the discovery result", async () => {
  const before = await snapshot(w);
  const r = await w.admin(servers, { method: "POST", body: { name: "needs-auth", config: { endpoint: s.endpoint } } });
  assert.equal(r.status, 400, r.text);
  assert.equal(code(r), "auth_required");
  assert.equal(r.json.errors[0].path, "config.auth");
  assert.match(r.json.errors[0].message, /requires authorization: add config\.auth/);
  assert.equal(r.json.discovery_result.requires_auth, true);
  assert.equal(r.json.discovery_result.issuer, s.issuer);
  assert.equal(r.json.discovery_result.recommended_auth_mode, CONFIDENTIAL);
  assert.deepEqual(await snapshot(w), before);
});

test("pagination: limit, offset and has_more walk every server once; bad bounds are 400", async () => {
  for (let i = 0; i < 5; i += 1) await createServer(w, `page-${i}`, tokenConfig(i));
  const all = (await w.admin(`${servers}?limit=200`)).json;
  assert.equal(all.has_more, false);
  const total = all.items.length;
  assert.ok(total >= 5);
  const seen = [];
  for (let offset = 0; ; offset += 2) {
    const r = await w.admin(`${servers}?limit=2&offset=${offset}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.limit, 2);
    assert.equal(r.json.offset, offset);
    assert.ok(r.json.items.length <= 2);
    seen.push(...r.json.items.map((i) => i.id));
    assert.equal(r.json.has_more, offset + 2 < total, `has_more at offset ${offset}`);
    if (!r.json.has_more) break;
  }
  assert.deepEqual(seen, all.items.map((i) => i.id), "every server once, in order");
  const defaults = (await w.admin(servers)).json;
  assert.equal(defaults.limit, 50);
  assert.equal(defaults.offset, 0);
  const past = (await w.admin(`${servers}?offset=${total + 10}`)).json;
  assert.deepEqual([past.items, past.has_more], [[], false]);

  for (const [query, path] of [["limit=201", "limit"], ["limit=0", "limit"], ["limit=-1", "limit"], ["limit=ten", "limit"], ["offset=-1", "offset"], ["offset=1.5", "offset"]]) {
    const r = await w.admin(`${servers}?${query}`);
    assert.equal(r.status, 400, `${query}: ${r.text}`);
    assert.equal(code(r), "invalid_value");
    assert.equal(r.json.errors[0].path, path);
  }
  assert.match((await w.admin(`${servers}?limit=500`)).json.errors[0].message, /1 to 200/);
});

test("unknown ids: GET, PATCH, DELETE, attach and access-token answer 404 not_found, nothing created", async () => {
  const before = await snapshot(w);
  const id = "srv-000000000000000000000000";
  for (const [method, path, body] of [
    ["GET", `${servers}/${id}`],
    ["PATCH", `${servers}/${id}`, { name: "ghost" }],
    ["PATCH", `${servers}/${id}`, { config: tokenConfig("ghost") }],
    ["DELETE", `${servers}/${id}`],
    ["POST", `/ai/agents/agent-x/mcp-servers/${id}/attach`],
    ["POST", `/ai/agents/agent-x/mcp-servers/${id}/access-token`, { actor_id: "alice" }],
  ]) {
    const r = await w.admin(path, { method, body });
    assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
    assert.equal(code(r), "not_found");
  }
  const bad = await w.admin(`${servers}/not%20an%20id`);
  assert.equal(bad.status, 400, bad.text);
  assert.equal(code(bad), "invalid_value");
  assert.deepEqual(await snapshot(w), before);
});

test("attach and detach are idempotent; attaching an unknown server stores nothing", async () => {
  const server = await createServer(w, "attachable", tokenConfig("att"));
  const rows = () => count(w, "agent_servers", "server_id = ?", server.id);
  await attach(w, "agent-i", server.id);
  await attach(w, "agent-i", server.id);
  assert.equal(await rows(), 1);
  const listed = await w.admin("/ai/agents/agent-i/mcp-servers");
  assert.deepEqual(listed.json.items.map((i) => i.id), [server.id]);
  for (let i = 0; i < 2; i += 1) {
    const d = await w.admin(`/ai/agents/agent-i/mcp-servers/${server.id}/detach`, { method: "POST" });
    assert.equal(d.status, 204, d.text);
  }
  assert.equal(await rows(), 0);
  assert.deepEqual((await w.admin("/ai/agents/agent-i/mcp-servers")).json.items, []);
  const ticket = await ticketFor(w, "ivy", ["agent-i"]);
  assert.deepEqual((await w.call("/service/mcp/agents/agent-i/servers", { token: ticket })).json.items, []);
  const never = await w.admin(`/ai/agents/agent-never/mcp-servers/${server.id}/detach`, { method: "POST" });
  assert.equal(never.status, 204);
  // Agent ids are the platform's (any text without control characters: "bad/agent" is one).
  const badAgent = await w.admin(`/ai/agents/bad%0Aagent/mcp-servers/${server.id}/attach`, { method: "POST" });
  assert.equal(badAgent.status, 400, badAgent.text);
  assert.equal(badAgent.json.errors[0].path, "agent_id");
  assert.equal(await count(w, "agent_servers", "server_id = ?", server.id), 0);
});

test("DELETE cascades: attachments, pending consents, connections and cached tokens go; the runtime list forgets it", async () => {
  const server = await createServer(w, "doomed", { endpoint: s.endpoint, auth: { type: PUBLIC } }, ["agent-d", "agent-e"]);
  const ticket = await ticketFor(w, "dana", ["agent-d", "agent-e"]);
  assert.equal((await callback(w, await consentParams(w, ticket, "agent-d", server.id))).status, 200);
  await connect(w, ticket, "agent-e", server.id); // a flow left pending
  const machine = await registerClient(s.as.issuer, {
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope: "mcp:tools",
  });
  const cc = await createServer(w, "doomed-cc", {
    endpoint: s.endpoint,
    auth: { type: "oauth_client_credentials", client_id: machine.client_id, client_secret: machine.client_secret, scopes: ["mcp:tools"] },
  }, ["agent-d"]);
  assert.equal((await accessToken(w, "agent-d", cc.id, "dana")).status, 200);
  const where = "server_id IN (?, ?)";
  assert.deepEqual(
    [await count(w, "agent_servers", where, server.id, cc.id), await count(w, "connections", where, server.id, cc.id), await count(w, "pending_consents", where, server.id, cc.id), await count(w, "client_tokens", where, server.id, cc.id)],
    [3, 1, 1, 1],
  );

  for (const id of [server.id, cc.id]) {
    const d = await w.admin(`${servers}/${id}`, { method: "DELETE" });
    assert.equal(d.status, 204, d.text);
  }
  for (const table of ["servers", "agent_servers", "connections", "pending_consents", "client_tokens"]) {
    const column = table === "servers" ? "id" : "server_id";
    assert.equal(await count(w, table, `${column} IN (?, ?)`, server.id, cc.id), 0, table);
  }
  for (const agent of ["agent-d", "agent-e"]) {
    assert.equal(await entry(w, ticket, agent, server.id), undefined);
    assert.deepEqual((await w.admin(`/ai/agents/${agent}/mcp-servers`)).json.items, []);
  }
  assert.equal((await w.admin(`${servers}/${server.id}`)).status, 404);
  assert.equal((await w.admin(`${servers}/${server.id}`, { method: "DELETE" })).status, 404);
  assert.equal((await accessToken(w, "agent-d", server.id, "dana")).status, 404);
  const c = await w.call(`/service/mcp/agents/agent-d/servers/${server.id}/connect`, { method: "POST", token: ticket, body: {} });
  assert.equal(c.status, 404, c.text);
});

test("PATCH: a bad update changes nothing; a rename keeps connections; a new config is re-hydrated and drops them", async () => {
  const server = await createServer(w, "morph", { endpoint: s.endpoint, auth: { type: PUBLIC } }, ["agent-m"]);
  const ticket = await ticketFor(w, "mo", ["agent-m"]);
  assert.equal((await callback(w, await consentParams(w, ticket, "agent-m", server.id))).status, 200);
  const pending = await connect(w, ticket, "agent-m", server.id);
  const path = `${servers}/${server.id}`;

  const before = await snapshot(w);
  for (const [body, errorCode] of [
    [{ config: { endpoint: s.endpoint, auth: { type: "oauth2" } } }, "invalid_request"],
    [{ config: { server_url: s.endpoint } }, "invalid_request"],
    [{ name: "x".repeat(101) }, "invalid_request"],
    [{ name: "ok", enabled: false }, "unknown_field"],
  ]) {
    const r = await w.admin(path, { method: "PATCH", body });
    assert.equal(r.status, 400, r.text);
    assert.equal(code(r), errorCode, r.text);
  }
  assert.deepEqual(await snapshot(w), before, "refused updates change nothing");

  const renamed = await w.admin(path, { method: "PATCH", body: { name: "morph-2" } });
  assert.equal(renamed.status, 200, renamed.text);
  assert.equal(renamed.json.config.auth.client_id, server.config.auth.client_id);
  assert.equal(await status(w, ticket, "agent-m", server.id), "connected", "a rename keeps the connection");

  const r = await w.admin(path, { method: "PATCH", body: { config: { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } } } });
  assert.equal(r.status, 200, r.text);
  const auth = r.json.config.auth;
  assert.equal(r.json.name, "morph-2");
  assert.equal(r.json.created_at, server.created_at);
  assert.equal(auth.type, CONFIDENTIAL);
  assert.equal(auth.has_client_secret, true);
  assert.equal(auth.client_secret, undefined);
  assert.notEqual(auth.client_id, server.config.auth.client_id, "registered anew");
  assert.equal(auth.token_url, `${s.issuer}/token`, "re-hydrated");
  assert.equal(auth.auth_url, server.config.auth.auth_url);
  assert.equal(r.json.provider.issuer, s.issuer);
  assert.equal(await count(w, "connections", "server_id = ?", server.id), 0);
  // The pending consent cannot complete under the new config: its flow ended (its callback
  // would answer server_changed, race.test.mjs).
  assert.equal((await flowStatus(w, ticket, pending.flow_id)).json.error.code, "server_changed");
  assert.equal(await status(w, ticket, "agent-m", server.id), "not_connected");
  assert.equal(code(await accessToken(w, "agent-m", server.id, "mo")), "not_connected");
  const { connections_dropped: dropped, ...stored } = r.json;
  assert.equal(dropped, true, "the answer says the connections were dropped");
  assert.deepEqual((await w.admin(path)).json, stored);
});
