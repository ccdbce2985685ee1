// The check route and the diagnostics of create, against the real peers: each finding on a
// server set up to have that problem (a token mode where OAuth is wanted, a wrong resource, a
// scope the server does not get, a client the provider does not know, a redirect URI it does
// not have, an endpoint that moved), a healthy server with a person whose tools/list works,
// and invalid_ticket / agent_not_in_scope saying why.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CONFIDENTIAL, PUBLIC, code, createServer, registerClient, startStack, ticketFor } from "./scenario.mjs";
import { ADMIN_KEY } from "./harness.mjs";
import { connectPerson, expireAccessToken, storedTokens } from "./platform.mjs";

let s, w;
const AGENT = "agent-check";

before(async () => {
  s = await startStack({ proxy: true });
  w = s.w;
});

after(async () => {
  await s?.close();
});

async function check(id, body = {}) {
  const r = await w.admin(`/ai/agents/${AGENT}/mcp-servers/${id}/check`, { method: "POST", body });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const codes = (answer) => answer.findings.map((f) => f.code);

test("a healthy server with a connected person: ok, and tools/list works with their token", async () => {
  const server = await createServer(w, "healthy", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  const plain = await check(server.id);
  assert.deepEqual(plain.findings, []);
  assert.equal(plain.ok, true);
  const notYet = await check(server.id, { actor_id: "alice" });
  assert.deepEqual(codes(notYet), ["not_connected"]);
  assert.equal(notYet.ok, false);
  await connectPerson(w, await ticketFor(w, "alice", [AGENT]), AGENT, server.id);
  const connected = await check(server.id, { actor_id: "alice" });
  assert.deepEqual(connected.findings, []);
  assert.equal(connected.tools, 2);
});

test("with actor_id an expired access token is refreshed first; a refused refresh token is connection_expired", async () => {
  const server = await createServer(w, "refreshing", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  await connectPerson(w, await ticketFor(w, "ray", [AGENT]), AGENT, server.id);
  const expire = () => expireAccessToken(w, server.id, "ray");
  const version = async () => (await w.db.prepare("SELECT version FROM connections WHERE server_id = ?1").bind(server.id).first()).version;
  await expire();
  const v1 = await version();
  const refreshed = await check(server.id, { actor_id: "ray" });
  assert.deepEqual(refreshed.findings, []);
  assert.equal(refreshed.tools, 2);
  assert.equal(await version(), v1 + 1, "the provider was asked for a new token");

  const tokens = await storedTokens(w, server.id, "ray");
  await (await s.as.provider.RefreshToken.find(tokens.refresh_token)).destroy();
  await expire();
  const gone = await check(server.id, { actor_id: "ray" });
  assert.deepEqual(codes(gone), ["connection_expired"]);
});

test("auth_mode_mismatch: a token config for a server that wants OAuth (create warns too)", async () => {
  const r = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: { name: "token-for-oauth", config: { endpoint: s.mcp.endpoint, auth: { type: "token", auth_token: "static-123" } } },
  });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.warnings.map((x) => x.code), ["auth_mode_mismatch"]);
  await w.admin(`/ai/agents/${AGENT}/mcp-servers/${r.json.server.id}/attach`, { method: "POST" });
  const answer = await check(r.json.server.id);
  const [f] = answer.findings;
  assert.equal(f.code, "auth_mode_mismatch");
  assert.match(f.message, /static token/);
  assert.match(f.fix, /oauth_authorization_code_/);
});

test("resource_mismatch: a resource that is not the server's; the person's token is refused for it", async () => {
  const wrong = new URL("/elsewhere", s.mcp.endpoint).href;
  const r = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: { name: "wrong-resource", config: { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL, resource: wrong } } },
  });
  assert.equal(r.status, 201, r.text);
  assert.ok(r.json.warnings.some((x) => x.code === "resource_mismatch"), r.text);
  const id = r.json.server.id;
  await w.admin(`/ai/agents/${AGENT}/mcp-servers/${id}/attach`, { method: "POST" });
  await connectPerson(w, await ticketFor(w, "rob", [AGENT]), AGENT, id);
  const answer = await check(id, { actor_id: "rob" });
  assert.deepEqual([...new Set(codes(answer))], ["resource_mismatch"], JSON.stringify(answer));
  assert.ok(answer.findings.some((f) => /HTTP 401/.test(f.message)), "the MCP server's 401 is explained");
});

test("scope_insufficient: scopes that leave out what the server requires; its 403 is explained", async () => {
  const r = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: { name: "few-scopes", config: { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL, scopes: ["openid"] } } },
  });
  assert.equal(r.status, 201, r.text);
  assert.ok(r.json.warnings.some((x) => x.code === "scope_insufficient"), r.text);
  const id = r.json.server.id;
  await w.admin(`/ai/agents/${AGENT}/mcp-servers/${id}/attach`, { method: "POST" });
  await connectPerson(w, await ticketFor(w, "sam", [AGENT]), AGENT, id);
  const answer = await check(id, { actor_id: "sam" });
  assert.deepEqual([...new Set(codes(answer))], ["scope_insufficient"], JSON.stringify(answer));
  assert.ok(answer.findings.some((f) => /mcp:tools/.test(f.message)), JSON.stringify(answer));
  assert.ok(answer.findings.some((f) => /HTTP 403 \(insufficient_scope\)/.test(f.message)), "the MCP server's 403 is explained");
});

test("create warns about scopes the server does not advertise", async () => {
  const r = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: { name: "extra-scopes", config: { endpoint: s.mcp.endpoint,
      auth: { type: CONFIDENTIAL, client_id: "by-hand", client_secret: "x", scopes: ["mcp:tools", "files:write"] } } },
  });
  assert.equal(r.status, 201, r.text);
  const [warning] = r.json.warnings;
  assert.equal(warning.code, "scope_not_advertised");
  assert.match(warning.message, /"files:write"/);
  assert.equal(r.json.warnings.length, 1, r.text);
});

test("client_unknown_at_provider: a client id the provider never registered", async () => {
  const server = await createServer(
    w,
    "ghost-client",
    { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL, client_id: "ghost-client", client_secret: "ghost-secret" } },
    [AGENT],
  );
  const answer = await check(server.id);
  assert.deepEqual(codes(answer), ["client_unknown_at_provider"]);
  assert.match(answer.findings[0].fix, /DCR|register/i);
});

test("client_unknown_at_provider from the token endpoint: a registered client with a wrong secret", async () => {
  const client = await registerClient(s.as.issuer, {
    redirect_uris: ["http://127.0.0.1:8787/service/mcp/consent/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    token_endpoint_auth_method: "client_secret_basic",
  });
  const server = await createServer(
    w,
    "wrong-secret",
    { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL, client_id: client.client_id, client_secret: "not-the-secret" } },
    [AGENT],
  );
  const answer = await check(server.id);
  assert.deepEqual(codes(answer), ["client_unknown_at_provider"]);
  assert.match(answer.findings[0].message, /token endpoint/);
});

test("redirect_uri_not_registered: a client registered by hand with another redirect URI", async () => {
  const client = await registerClient(s.as.issuer, {
    redirect_uris: ["http://127.0.0.1:9/somewhere-else"],
    grant_types: ["authorization_code", "refresh_token"],
    token_endpoint_auth_method: "none",
  });
  const server = await createServer(
    w,
    "wrong-redirect",
    { endpoint: s.mcp.endpoint, auth: { type: PUBLIC, client_id: client.client_id } },
    [AGENT],
  );
  const answer = await check(server.id);
  assert.deepEqual(codes(answer), ["redirect_uri_not_registered"]);
  assert.match(answer.findings[0].fix, /\/service\/mcp\/consent\/callback/);
});

test("endpoint_moved: the endpoint now answers a permanent redirect", async () => {
  const server = await createServer(w, "moving", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  assert.deepEqual((await check(server.id)).findings, []);
  s.proxy.program({ method: "POST", path: "/mcp", respond: { status: 308, headers: { location: "https://new.example/mcp" }, body: "" } });
  const answer = await check(server.id);
  s.proxy.reset();
  assert.equal(answer.findings[0].code, "endpoint_moved");
  assert.match(answer.findings[0].message, /308 to https:\/\/new\.example\/mcp/);
});

test("check: unknown server, not attached, bad body", async () => {
  const server = await createServer(w, "unattached", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } });
  const r = await w.admin(`/ai/agents/${AGENT}/mcp-servers/${server.id}/check`, { method: "POST" });
  assert.equal(r.status, 404);
  const unknown = await w.admin(`/ai/agents/${AGENT}/mcp-servers/srv-nope/check`, { method: "POST" });
  assert.equal(unknown.status, 404);
  await w.admin(`/ai/agents/${AGENT}/mcp-servers/${server.id}/attach`, { method: "POST" });
  const bad = await w.admin(`/ai/agents/${AGENT}/mcp-servers/${server.id}/check`, { method: "POST", body: { actor: "x" } });
  assert.equal(code(bad), "unknown_field");
  assert.equal(bad.json.errors[0].path, "actor");
});

test("invalid_ticket says why; agent_not_in_scope names the agent and the ticket's agent count", async () => {
  const path = `/service/mcp/agents/${AGENT}/servers`;
  const reason = async (token) => {
    const r = await w.call(path, { token });
    assert.equal(r.status, 401, r.text);
    assert.equal(code(r), "invalid_ticket");
    return r.json.errors[0].reason;
  };
  assert.equal(await reason(undefined), "missing");
  assert.equal(await reason("not-a-ticket"), "malformed");
  assert.equal(await reason(ADMIN_KEY), "admin_key_sent");
  const good = await ticketFor(w, "tia", ["a1", "a2"]);
  const forged = `${good.slice(0, -4)}${good.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
  assert.equal(await reason(forged), "bad_signature");
  const short = await ticketFor(w, "tia", [AGENT], 1);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await reason(short), "expired");

  const out = await w.call(path, { token: good });
  assert.equal(out.status, 403);
  assert.equal(code(out), "agent_not_in_scope");
  assert.equal(out.json.errors[0].agent_id, AGENT);
  assert.equal(out.json.errors[0].ticket_agent_count, 2);
  assert.match(out.json.errors[0].message, /covers 2 agent\(s\), not "agent-check"/);
});
