// The whole lifecycle, end to end against real peers: the Worker in workerd with D1, an
// oidc-provider authorization server and an MCP SDK server that only accepts its tokens.
// discover -> create with DCR (confidential and public) -> attach -> ticket -> connect ->
// consent at the provider -> callback -> connected -> access-token -> a real MCP tools/list
// -> expiry and refresh (concurrent callers share one refresh) -> disconnect; plus the
// client-credentials and token modes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { startWorker } from "./harness.mjs";
import { callback, consentParams } from "./scenario.mjs";

const TTL = 3; // access-token lifetime at the provider, seconds
let as, mcp, w;

before(async () => {
  as = await startAuthServer({ accessTokenTtl: TTL });
  mcp = await startMcpServer({ issuer: as.issuer });
  w = await startWorker({ bindings: { REFRESH_LEEWAY_SECONDS: "0" } });
});

after(async () => {
  await w?.close();
  await mcp?.close();
  await as?.close();
});

async function listTools(token) {
  const client = new Client({ name: "lifecycle-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(mcp.endpoint), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  try {
    return (await client.listTools()).tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ticketFor(actor, agents) {
  const r = await w.admin("/ai/session-tickets", { method: "POST", body: { actor_id: actor, agent_ids: agents } });
  assert.equal(r.status, 201, r.text);
  return r.json.ticket;
}

async function createServer(name, auth) {
  const r = await w.admin("/ai/mcp-servers", { method: "POST", body: { name, config: { endpoint: mcp.endpoint, auth } } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

/**
 * connect -> the consent form POSTed from the app's origin (the Worker sets the binding cookie
 * and answers 303 to the provider) -> consent at the provider -> callback with the cookie;
 * returns the callback's response.
 */
async function consent(ticket, agent, serverId, body = {}) {
  return callback(w, await consentParams(w, ticket, agent, serverId, body));
}

async function status(ticket, agent, serverId) {
  const r = await w.call(`/service/mcp/agents/${agent}/servers`, { token: ticket });
  assert.equal(r.status, 200, r.text);
  return r.json.items.find((i) => i.id === serverId)?.connection_status;
}

function accessToken(agent, serverId, actor) {
  return w.admin(`/ai/agents/${agent}/mcp-servers/${serverId}/access-token`, { method: "POST", body: { actor_id: actor } });
}

test("discover finds the SDK server's OAuth set-up through the Worker", async () => {
  const r = await w.admin("/ai/mcp-servers/discover", { method: "POST", body: { endpoint: mcp.endpoint } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.requires_auth, true);
  assert.equal(r.json.issuer, as.issuer);
  assert.equal(r.json.recommended_auth_mode, "oauth_authorization_code_confidential_pkce");
  assert.equal(r.json.authorization_response_iss_parameter_supported, true);
});

for (const mode of ["oauth_authorization_code_confidential_pkce", "oauth_authorization_code_public_pkce"]) {
  test(`lifecycle with DCR: ${mode}`, async () => {
    const agent = `agent-${mode.includes("public") ? "pub" : "conf"}`;
    const created = await createServer(`sdk-${mode}`, { type: mode });
    const server = created.server;
    assert.equal(created.discovery_result.issuer, as.issuer);
    assert.equal(server.config.auth.type, mode);
    assert.match(server.config.auth.client_id, /.+/);
    assert.equal(server.config.auth.client_secret, undefined);
    assert.equal(server.config.auth.has_client_secret === true, mode.includes("confidential"));
    assert.equal(server.config.auth.auth_url, created.discovery_result.auth_url);
    assert.equal(server.provider.issuer, as.issuer);

    assert.equal((await w.admin(`/ai/agents/${agent}/mcp-servers/${server.id}/attach`, { method: "POST" })).status, 204);
    assert.equal((await w.admin(`/ai/agents/${agent}/mcp-servers/${server.id}/attach`, { method: "POST" })).status, 204);
    const ticket = await ticketFor("alice", [agent]);
    assert.equal(await status(ticket, agent, server.id), "not_connected");
    assert.equal((await accessToken(agent, server.id, "alice")).json.errors[0].code, "not_connected");

    const cb = await consent(ticket, agent, server.id);
    assert.equal(cb.status, 200, cb.text);
    assert.match(cb.headers.get("content-type"), /text\/html/);
    assert.equal(cb.headers.get("cache-control"), "no-store");
    assert.match(cb.text, /Connected/);
    assert.equal(await status(ticket, agent, server.id), "connected");

    const t1 = await accessToken(agent, server.id, "alice");
    assert.equal(t1.status, 200, t1.text);
    assert.equal(t1.json.token_type, "Bearer");
    assert.ok(t1.json.expires_at);
    assert.deepEqual(await listTools(t1.json.access_token), ["echo", "whoami"]);

    // Expiry: the provider's token lives TTL seconds; concurrent callers share one refresh.
    await sleep(TTL * 1000 + 1200);
    const burst = await Promise.all([1, 2, 3, 4].map(() => accessToken(agent, server.id, "alice")));
    for (const r of burst) assert.equal(r.status, 200, r.text);
    const fresh = new Set(burst.map((r) => r.json.access_token));
    assert.equal(fresh.size, 1, "every concurrent caller gets the same new token");
    const [t2] = fresh;
    assert.notEqual(t2, t1.json.access_token);
    assert.deepEqual(await listTools(t2), ["echo", "whoami"]);

    // A second refresh works too: the rotated refresh token was kept.
    await sleep(TTL * 1000 + 1200);
    const t3 = await accessToken(agent, server.id, "alice");
    assert.equal(t3.status, 200, t3.text);
    assert.notEqual(t3.json.access_token, t2);

    const d = await w.call(`/service/mcp/agents/${agent}/servers/${server.id}/disconnect`, { method: "POST", token: ticket });
    assert.equal(d.status, 204);
    assert.equal(await status(ticket, agent, server.id), "not_connected");
    assert.equal((await accessToken(agent, server.id, "alice")).json.errors[0].code, "not_connected");
  });
}

test("client credentials mode, end to end", async () => {
  const reg = await fetch(`${as.issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "mcp:tools",
    }),
  }).then((r) => r.json());
  assert.ok(reg.client_secret, JSON.stringify(reg));
  const { server } = await createServer("machine", {
    type: "oauth_client_credentials",
    client_id: reg.client_id,
    client_secret: reg.client_secret,
    scopes: ["mcp:tools"],
  });
  assert.equal(server.config.auth.client_secret, undefined);
  assert.equal(server.config.auth.has_client_secret, true);
  assert.equal(server.config.auth.token_url, `${as.issuer}/token`);
  await w.admin(`/ai/agents/robot/mcp-servers/${server.id}/attach`, { method: "POST" });
  const ticket = await ticketFor("svc", ["robot"]);
  assert.equal(await status(ticket, "robot", server.id), "ready");
  const c = await w.call(`/service/mcp/agents/robot/servers/${server.id}/connect`, { method: "POST", token: ticket });
  assert.deepEqual(c.json, { requires_oauth: false });
  const t1 = await accessToken("robot", server.id, "svc");
  assert.equal(t1.status, 200, t1.text);
  assert.deepEqual(await listTools(t1.json.access_token), ["echo", "whoami"]);
  const t2 = await accessToken("robot", server.id, "svc");
  assert.equal(t2.json.access_token, t1.json.access_token, "cached until it expires");
});

test("token mode and no-auth servers", async () => {
  const { server } = await createServer("static", { type: "token", auth_token: "sk-live-static-123" });
  assert.deepEqual(server.config.auth, { type: "token", has_auth_token: true });
  await w.admin(`/ai/agents/a-tok/mcp-servers/${server.id}/attach`, { method: "POST" });
  const t = await accessToken("a-tok", server.id, "bob");
  assert.deepEqual(t.json, { access_token: "sk-live-static-123", token_type: "Bearer", expires_at: null });
  const listed = await w.admin(`/ai/mcp-servers/${server.id}`);
  assert.ok(!listed.text.includes("sk-live-static-123"));
});
