// discovery.md §8 and §9 against the real oidc-provider and MCP SDK server: the agent runtime
// hands the MCP server's 401/403 to the challenge route and does what it answers. Step-up with
// the union of scopes (and its limit), refresh on 401, a server saved as needing no auth that
// challenges later, offline_access in the authorization request, and a provider that issues
// no refresh token.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createServer } from "node:http";
import { authorizeByHttp, closeServer, startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { ORIGIN, startWorker } from "./harness.mjs";
import {
  CONFIDENTIAL,
  accessToken,
  attach,
  callback,
  code,
  entry,
  registerClient,
  sleep,
  startedFlow,
  status,
  ticketFor,
} from "./scenario.mjs";

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function stack({ as: asOptions = {}, mcp: mcpOptions = {}, bindings = {} } = {}) {
  const as = await startAuthServer(asOptions);
  const mcp = await startMcpServer({ issuer: as.issuer, ...mcpOptions });
  const w = await startWorker({ bindings });
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());
  return { as, mcp, w };
}

/** An MCP initialize with `token` (or none): status and every WWW-Authenticate value. */
async function mcpCall(endpoint, token) {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(endpoint, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    }),
  });
  await r.body?.cancel();
  const value = r.headers.get("www-authenticate");
  return { status: r.status, www_authenticate: value ? [value] : [] };
}

function challenge(w, agent, id, actor, answer) {
  return w.admin(`/ai/agents/${agent}/mcp-servers/${id}/challenge`, { method: "POST", body: { actor_id: actor, ...answer } });
}

async function create(w, name, config, agent) {
  const r = await w.admin("/ai/mcp-servers", { method: "POST", body: { name, config } });
  assert.equal(r.status, 201, r.text);
  await attach(w, agent, r.json.server.id);
  return r.json.server;
}

/** connect -> consent -> callback; returns the scopes the authorization request asked for. */
async function connectFully(w, ticket, agent, id) {
  const { providerUrl } = await startedFlow(w, ticket, agent, id);
  const asked = new URL(providerUrl).searchParams.get("scope");
  const redirect = new URL(await authorizeByHttp(providerUrl));
  const cb = await callback(w, redirect.searchParams);
  assert.equal(cb.status, 200, cb.text);
  return asked ? asked.split(" ") : [];
}

test("step-up: 403 insufficient_scope -> needs_consent with the union of scopes -> connect asks for exactly those", async () => {
  const { as, mcp, w } = await stack({
    as: { resourceScopes: ["mcp:tools", "mcp:admin"] },
    mcp: { requiredScopes: ["mcp:tools", "mcp:admin"] },
  });
  // The operator configured mcp:tools only; the server wants mcp:admin as well. The client is
  // registered by hand without a scope restriction (a DCR client is registered for the scopes
  // known then, which this provider would hold it to).
  const reg = await registerClient(as.issuer, {
    client_name: "step",
    application_type: "native",
    redirect_uris: [`${ORIGIN}/service/mcp/consent/callback`],
    grant_types: ["authorization_code", "refresh_token"],
    token_endpoint_auth_method: "client_secret_basic",
  });
  const server = await create(
    w,
    "step",
    {
      endpoint: mcp.endpoint,
      auth: { type: CONFIDENTIAL, scopes: ["mcp:tools"], client_id: reg.client_id, client_secret: reg.client_secret },
    },
    "agent-s",
  );
  assert.equal(server.provider.client_source, "pre_registered");
  const ticket = await ticketFor(w, "erin", ["agent-s"]);
  const asked = await connectFully(w, ticket, "agent-s", server.id);
  assert.deepEqual(asked, ["mcp:tools", "offline_access"]);
  const t = await accessToken(w, "agent-s", server.id, "erin");
  const refused = await mcpCall(mcp.endpoint, t.json.access_token);
  assert.equal(refused.status, 403);

  const r = await challenge(w, "agent-s", server.id, "erin", refused);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, "consent_required");
  assert.deepEqual(r.json.required_scopes.slice().sort(), ["mcp:admin", "mcp:tools", "offline_access"]);
  const e = await entry(w, ticket, "agent-s", server.id);
  assert.equal(e.connection_status, "needs_consent");
  assert.deepEqual(e.required_scopes, r.json.required_scopes);

  // The next connect asks for exactly the required scopes; afterwards the call succeeds.
  const again = await connectFully(w, ticket, "agent-s", server.id);
  assert.deepEqual(again.slice().sort(), r.json.required_scopes.slice().sort());
  assert.equal(await status(w, ticket, "agent-s", server.id), "connected");
  const t2 = await accessToken(w, "agent-s", server.id, "erin");
  assert.equal((await mcpCall(mcp.endpoint, t2.json.access_token)).status, 200);
});

test("at most 3 authorization requests per connection per hour, the first consent included: then 429 step_up_limit", async () => {
  const { mcp, w } = await stack({ mcp: { requiredScopes: ["mcp:tools", "mcp:never"] } });
  const server = await create(w, "greedy", { endpoint: mcp.endpoint, auth: { type: CONFIDENTIAL, scopes: ["mcp:tools"] } }, "agent-g");
  const ticket = await ticketFor(w, "frank", ["agent-g"]);
  await connectFully(w, ticket, "agent-g", server.id);
  const t = await accessToken(w, "agent-g", server.id, "frank");
  const refused = await mcpCall(mcp.endpoint, t.json.access_token);
  assert.equal(refused.status, 403);
  // The consent above was the first; two step-ups follow (the scenario auth/scope-retry-limit
  // counts every authorization request).
  for (let i = 0; i < 2; i += 1) {
    const r = await challenge(w, "agent-g", server.id, "frank", refused);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.action, "consent_required");
  }
  const r = await challenge(w, "agent-g", server.id, "frank", refused);
  assert.equal(r.status, 429, r.text);
  assert.equal(code(r), "step_up_limit");
  assert.match(r.json.errors[0].message, /keeps refusing/);
});

test("401: the challenge route refreshes once and hands back the new token", async () => {
  const { mcp, w } = await stack();
  const server = await create(w, "refresh", { endpoint: mcp.endpoint, auth: { type: CONFIDENTIAL } }, "agent-r");
  const ticket = await ticketFor(w, "gina", ["agent-r"]);
  await connectFully(w, ticket, "agent-r", server.id);
  const t = await accessToken(w, "agent-r", server.id, "gina");
  // The MCP server refuses a token (here: a mangled one) with 401 invalid_token.
  const refused = await mcpCall(mcp.endpoint, `${t.json.access_token}x`);
  assert.equal(refused.status, 401);
  const r = await challenge(w, "agent-r", server.id, "gina", refused);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, "retry");
  assert.equal(r.json.token_type, "Bearer");
  assert.notEqual(r.json.access_token, t.json.access_token);
  assert.equal((await mcpCall(mcp.endpoint, r.json.access_token)).status, 200);
  // The access-token route now gives the refreshed token.
  assert.equal((await accessToken(w, "agent-r", server.id, "gina")).json.access_token, r.json.access_token);
  // No connection at all: reconnect.
  const none = await challenge(w, "agent-r", server.id, "nobody", refused);
  assert.deepEqual(none.json, { action: "reconnect" });
  // Bad bodies name the field.
  const bad = await challenge(w, "agent-r", server.id, "gina", { status: 500, www_authenticate: [] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.errors[0].path, "status");
});

test("a server saved as needing no auth becomes connectable from its first challenge", async () => {
  const as = await startAuthServer();
  // At creation the endpoint answers initialize anonymously (a plain server on the port)...
  const open = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: { protocolVersion: "2025-06-18", capabilities: {}, serverInfo: { name: "open", version: "1" } } }));
  });
  await new Promise((resolve) => open.listen(0, "127.0.0.1", resolve));
  const port = open.address().port;
  const w = await startWorker();
  cleanups.push(() => w.close(), () => as.close());
  const endpoint = `http://127.0.0.1:${port}/mcp`;
  const created = await w.admin("/ai/mcp-servers", { method: "POST", body: { name: "lazy", config: { endpoint } } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.server.config.auth, undefined);
  const id = created.json.server.id;
  await attach(w, "agent-n", id);
  const ticket = await ticketFor(w, "hank", ["agent-n"]);
  assert.equal(await status(w, ticket, "agent-n", id), "ready");

  // ...later the same URL is the protected MCP server, which challenges every call.
  await closeServer(open);
  const mcp = await startMcpServer({ issuer: as.issuer, port });
  cleanups.push(() => mcp.close());
  const refused = await mcpCall(mcp.endpoint);
  assert.equal(refused.status, 401);
  const r = await challenge(w, "agent-n", id, "hank", refused);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, "consent_required");
  assert.deepEqual(r.json.required_scopes, ["mcp:tools", "offline_access"]);
  const server = (await w.admin(`/ai/mcp-servers/${id}`)).json;
  assert.equal(server.config.auth.type, CONFIDENTIAL);
  assert.equal(server.provider.issuer, as.issuer);
  assert.equal(server.provider.client_source, "dcr");
  assert.equal(await status(w, ticket, "agent-n", id), "not_connected");
  await connectFully(w, ticket, "agent-n", id);
  const t = await accessToken(w, "agent-n", id, "hank");
  assert.equal((await mcpCall(mcp.endpoint, t.json.access_token)).status, 200);
});

test("offline_access is asked for only when the provider lists it", async () => {
  for (const offlineAccess of [true, false]) {
    const { mcp, w } = await stack({ as: { offlineAccess } });
    const server = await create(w, "o", { endpoint: mcp.endpoint, auth: { type: CONFIDENTIAL } }, "agent-o");
    assert.equal(server.provider.offline_access_supported, offlineAccess);
    const ticket = await ticketFor(w, "ivy", ["agent-o"]);
    const { providerUrl } = await startedFlow(w, ticket, "agent-o", server.id);
    const scope = new URL(providerUrl).searchParams.get("scope") ?? "";
    assert.equal(scope.split(" ").includes("offline_access"), offlineAccess, scope);
  }
});

test("no refresh token: the token stays usable until it expires, then expired saying why", async () => {
  const { mcp, w } = await stack({
    as: { refreshTokens: false, accessTokenTtl: 4 },
    // The whole lifetime is inside the refresh window.
    bindings: { REFRESH_LEEWAY_SECONDS: "60" },
  });
  const server = await create(w, "norefresh", { endpoint: mcp.endpoint, auth: { type: CONFIDENTIAL } }, "agent-x");
  const ticket = await ticketFor(w, "jack", ["agent-x"]);
  await connectFully(w, ticket, "agent-x", server.id);
  const t1 = await accessToken(w, "agent-x", server.id, "jack");
  assert.equal(t1.status, 200, t1.text);
  const t2 = await accessToken(w, "agent-x", server.id, "jack");
  assert.equal(t2.status, 200, t2.text);
  assert.equal(t2.json.access_token, t1.json.access_token);
  assert.equal(await status(w, ticket, "agent-x", server.id), "connected");
  assert.equal((await mcpCall(mcp.endpoint, t2.json.access_token)).status, 200);

  await sleep(4500);
  const r = await accessToken(w, "agent-x", server.id, "jack");
  assert.equal(r.status, 409, r.text);
  assert.equal(code(r), "connection_expired");
  assert.match(r.json.errors[0].message, /provider issued no refresh token/);
  assert.equal(await status(w, ticket, "agent-x", server.id), "expired");
});
