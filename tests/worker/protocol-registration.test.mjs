// discovery.md §7 against the real oidc-provider: how a server's client comes to exist and
// what happens to it later. CIMD (the provider fetches the Worker's client metadata document),
// DCR with application_type and an http loopback redirect, the client_secret_basic ->
// client_secret_post retry (remembered), invalid_client -> one re-registration, and an issuer
// change -> a new client for the new issuer.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, test } from "node:test";
import { authorizeByHttp, startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { ORIGIN, startWorker } from "./harness.mjs";
import {
  PUBLIC,
  CONFIDENTIAL,
  accessToken,
  attach,
  callback,
  code,
  consentParams,
  registerClient,
  startedFlow,
  status,
  ticketFor,
} from "./scenario.mjs";

const CIMD_URL = "https://cimd.example/client-metadata.json";
const HTTPS_ORIGIN = "https://authlink.test";
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** An MCP call with `token`: status and every WWW-Authenticate value. */
async function mcpCall(endpoint, token) {
  const r = await fetch(endpoint, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    }),
  });
  await r.body?.cancel();
  return { status: r.status, www_authenticate: r.headers.get("www-authenticate") ? [r.headers.get("www-authenticate")] : [] };
}

async function createServer(w, name, endpoint, auth, agent) {
  const r = await w.admin("/ai/mcp-servers", { method: "POST", body: { name, config: { endpoint, auth } } });
  assert.equal(r.status, 201, r.text);
  await attach(w, agent, r.json.server.id);
  return r.json;
}

/** connect -> consent -> callback, asserting the connection. */
async function connectFully(w, ticket, agent, id) {
  const params = await consentParams(w, ticket, agent, id);
  const cb = await callback(w, params);
  assert.equal(cb.status, 200, cb.text);
  assert.equal(await status(w, ticket, agent, id), "connected");
}

test("CIMD: the provider fetches the Worker's per-server client metadata document; nothing is registered", async () => {
  let w;
  const seen = [];
  // The Worker's public origin is https (CIMD client ids must be); the provider reaches it
  // through miniflare.
  const cimdFetch = async (url, { dispatcher: _d, signal: _s, ...init }) => {
    seen.push(String(url));
    return w.mf.dispatchFetch(String(url), { ...init, redirect: "manual" });
  };
  const as = await startAuthServer({ cimdFetch });
  const mcp = await startMcpServer({ issuer: as.issuer });
  w = await startWorker({ bindings: { PUBLIC_ORIGIN: HTTPS_ORIGIN } });
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());

  const created = await createServer(w, "cimd", mcp.endpoint, { type: PUBLIC }, "agent-cimd");
  const id = created.server.id;
  const docUrl = `${HTTPS_ORIGIN}/.well-known/mcp-authlink/servers/${id}/client-metadata.json`;
  const redirect = `${HTTPS_ORIGIN}/service/mcp/consent/callback?s=${id}`;
  assert.equal(created.discovery_result.client_id_metadata_document_supported, true);
  assert.equal(created.server.config.auth.client_id, docUrl);
  assert.equal(created.server.provider.client_source, "cimd");
  assert.equal(created.server.provider.client_issuer, as.issuer);
  assert.equal(created.server.provider.redirect_uri, redirect);
  assert.deepEqual(seen, [], "creating fetches nothing");

  const doc = await w.call(`/.well-known/mcp-authlink/servers/${id}/client-metadata.json`);
  assert.equal(doc.status, 200, doc.text);
  assert.match(doc.headers.get("cache-control"), /public, max-age=\d+/);
  assert.deepEqual(doc.json, {
    client_id: docUrl,
    client_name: "mcp-authlink",
    redirect_uris: [redirect],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    application_type: "web",
  });
  assert.equal((await w.call("/.well-known/mcp-authlink/servers/srv-unknown/client-metadata.json")).status, 404);

  const ticket = await ticketFor(w, "alice", ["agent-cimd"]);
  const { providerUrl } = await startedFlow(w, ticket, "agent-cimd", id);
  assert.equal(new URL(providerUrl).searchParams.get("client_id"), docUrl);
  assert.equal(new URL(providerUrl).searchParams.get("redirect_uri"), redirect);
  const back = new URL(await authorizeByHttp(providerUrl));
  assert.equal(`${back.origin}${back.pathname}${"?s=" + back.searchParams.get("s")}`, redirect);
  assert.deepEqual(seen, [docUrl], "the provider fetched the document");
  const cb = await callback(w, back.searchParams);
  assert.equal(cb.status, 200, cb.text);
  const t = await accessToken(w, "agent-cimd", id, "alice");
  assert.equal(t.status, 200, t.text);
  assert.equal((await mcpCall(mcp.endpoint, t.json.access_token)).status, 200);
});

test("CIMD_URL: a document served elsewhere is every server's client id (the documented callback)", async () => {
  const as = await startAuthServer({ cimdFetch: async () => new Response("{}", { status: 404 }) });
  const mcp = await startMcpServer({ issuer: as.issuer });
  const w = await startWorker({ bindings: { CIMD_URL } });
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());
  const created = await createServer(w, "cimd-url", mcp.endpoint, { type: PUBLIC }, "agent-u");
  assert.equal(created.server.config.auth.client_id, CIMD_URL);
  assert.equal(created.server.provider.redirect_uri, `${ORIGIN}/service/mcp/consent/callback`);
  const bad = await startWorker({ bindings: { CIMD_URL: "http://authlink.test/doc.json" } });
  cleanups.push(() => bad.close());
  const r = await bad.admin("/ai/mcp-servers");
  // Callers learn only that the Worker is misconfigured; the log says what to fix.
  assert.equal(r.status, 500);
  assert.equal(r.json.errors[0].code, "misconfigured");
  assert.doesNotMatch(r.text, /CIMD_URL/);
  for (let i = 0; i < 50 && !bad.logs.join("").includes("CIMD_URL must be an https URL"); i += 1) {
    await new Promise((done) => setTimeout(done, 100));
  }
  assert.match(bad.logs.join(""), /CIMD_URL must be an https URL/);
});

test("a confidential config registers by DCR even when the provider supports CIMD (CIMD only without DCR)", async () => {
  const as = await startAuthServer({ cimdFetch: async () => new Response("{}", { status: 404 }) });
  const mcp = await startMcpServer({ issuer: as.issuer });
  const w = await startWorker({ bindings: { CIMD_URL: CIMD_URL } });
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());
  const created = await createServer(w, "conf", mcp.endpoint, { type: CONFIDENTIAL }, "agent-c");
  assert.equal(created.server.provider.client_source, "dcr");
  assert.notEqual(created.server.config.auth.client_id, CIMD_URL);
  assert.equal(created.server.config.auth.has_client_secret, true);
});

test("DCR asks for application_type native with the http loopback callback, and the provider accepts", async () => {
  const as = await startAuthServer();
  const mcp = await startMcpServer({ issuer: as.issuer });
  const w = await startWorker();
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());
  const created = await createServer(w, "dcr", mcp.endpoint, { type: CONFIDENTIAL }, "agent-d");
  const auth = created.server.config.auth;
  assert.equal(created.server.provider.client_source, "dcr");
  // What the provider stored for the client the Worker registered.
  const client = await as.provider.Client.find(auth.client_id);
  assert.equal(client.applicationType, "native");
  assert.deepEqual(client.redirectUris, [`${ORIGIN}/service/mcp/consent/callback?s=${created.server.id}`]);
  assert.equal(created.server.provider.redirect_uri, client.redirectUris[0]);
  assert.equal(client.tokenEndpointAuthMethod, auth.token_endpoint_auth_method);
  assert.equal(auth.token_endpoint_auth_method, "client_secret_basic");
  assert.ok(client.scope.split(" ").includes("offline_access"), client.scope);
  const ticket = await ticketFor(w, "bob", ["agent-d"]);
  await connectFully(w, ticket, "agent-d", created.server.id);
});

test("client_secret_basic answered invalid_client is retried once as client_secret_post, and remembered", async () => {
  // A provider that refuses HTTP Basic without client_id in the body (401 invalid_client).
  const as = await startAuthServer({ basicRequiresClientIdInBody: true });
  const mcp = await startMcpServer({ issuer: as.issuer });
  const w = await startWorker();
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());
  const reg = await registerClient(as.issuer, {
    client_name: "cc",
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic",
  });
  const created = await createServer(
    w,
    "cc",
    mcp.endpoint,
    { type: "oauth_client_credentials", client_id: reg.client_id, client_secret: reg.client_secret },
    "agent-cc",
  );
  assert.equal(created.server.config.auth.token_endpoint_auth_method, "client_secret_basic");
  const t = await accessToken(w, "agent-cc", created.server.id, "svc");
  assert.equal(t.status, 200, t.text);
  assert.equal((await mcpCall(mcp.endpoint, t.json.access_token)).status, 200);
  const after = await w.admin(`/ai/mcp-servers/${created.server.id}`);
  assert.equal(after.json.config.auth.token_endpoint_auth_method, "client_secret_post");
  // The authorization code flow too: a DCR client (registered as client_secret_basic)
  // exchanges its code by client_secret_post after the refusal.
  const conf = await createServer(w, "conf", mcp.endpoint, { type: CONFIDENTIAL }, "agent-cc");
  assert.equal(conf.server.config.auth.token_endpoint_auth_method, "client_secret_basic");
  const ticket = await ticketFor(w, "eve", ["agent-cc"]);
  await connectFully(w, ticket, "agent-cc", conf.server.id);
  const ut = await accessToken(w, "agent-cc", conf.server.id, "eve");
  assert.equal((await mcpCall(mcp.endpoint, ut.json.access_token)).status, 200);
  // A wrong secret: the provider's error, after exactly one retry.
  const wrong = await createServer(
    w,
    "cc-wrong",
    mcp.endpoint,
    { type: "oauth_client_credentials", client_id: reg.client_id, client_secret: "not-the-secret" },
    "agent-cc",
  );
  const r = await accessToken(w, "agent-cc", wrong.server.id, "svc");
  assert.equal(r.status, 502, r.text);
  assert.equal(code(r), "token_request_failed");
  assert.match(r.json.errors[0].message, /invalid_client/);
});

test("private_key_jwt: client credentials authenticated by an ES256 assertion from the configured key", async () => {
  const as = await startAuthServer({ privateKeyJwt: true });
  const mcp = await startMcpServer({ issuer: as.issuer });
  const w = await startWorker();
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).trim();
  const reg = await registerClient(as.issuer, {
    client_name: "jwt",
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "private_key_jwt",
    token_endpoint_auth_signing_alg: "ES256",
    jwks: { keys: [{ ...publicKey.export({ format: "jwk" }), alg: "ES256", use: "sig" }] },
  });
  assert.equal(reg.client_secret, undefined);
  for (const [name, key] of [
    ["pem", pem],
    ["jwk", privateKey.export({ format: "jwk" })],
  ]) {
    const created = await createServer(
      w,
      `jwt-${name}`,
      mcp.endpoint,
      { type: "oauth_client_credentials", client_id: reg.client_id, private_key: key },
      "agent-j",
    );
    const auth = created.server.config.auth;
    assert.equal(auth.token_endpoint_auth_method, "private_key_jwt");
    assert.equal(auth.signing_algorithm, "ES256");
    assert.equal(auth.has_private_key, true);
    assert.equal(auth.private_key, undefined);
    const t = await accessToken(w, "agent-j", created.server.id, "svc");
    assert.equal(t.status, 200, t.text);
    assert.equal((await mcpCall(mcp.endpoint, t.json.access_token)).status, 200);
  }
  // The key is sealed: no row holds it in clear.
  const rows = (await w.db.prepare("SELECT config_public, config_sealed FROM servers").all()).results;
  const d = privateKey.export({ format: "jwk" }).d;
  for (const row of rows) {
    assert.ok(!JSON.stringify(row).includes("PRIVATE KEY") && !JSON.stringify(row).includes(d));
  }
  // A key that is not the registered one: the provider's invalid_client.
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" });
  const wrong = await createServer(w, "jwt-wrong", mcp.endpoint, { type: "oauth_client_credentials", client_id: reg.client_id, private_key: other }, "agent-j");
  const r = await accessToken(w, "agent-j", wrong.server.id, "svc");
  assert.equal(r.status, 502, r.text);
  assert.match(r.json.errors[0].message, /invalid_client/);
  // Refused at create, with the field's path: an RSA key.
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" });
  const bad = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: { name: "jwt-rsa", config: { endpoint: mcp.endpoint, auth: { type: "oauth_client_credentials", client_id: "c", private_key: rsa } } },
  });
  assert.equal(bad.status, 400);
  const e = bad.json.errors.find((x) => x.path === "config.auth.private_key");
  assert.equal(e.code, "invalid_value");
  assert.match(e.message, /not a P-256 PKCS#8 private key/);
});

test("invalid_client for a DCR client registers once more and asks for consent again; never a loop", async () => {
  const as = await startAuthServer({ accessTokenTtl: 5 });
  const mcp = await startMcpServer({ issuer: as.issuer });
  // Every token is inside the refresh window: each access-token call refreshes.
  const w = await startWorker({ bindings: { REFRESH_LEEWAY_SECONDS: "60" } });
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());
  const created = await createServer(w, "expiring", mcp.endpoint, { type: CONFIDENTIAL }, "agent-r");
  const id = created.server.id;
  const first = created.server.config.auth.client_id;
  const ticket = await ticketFor(w, "carol", ["agent-r"]);
  await connectFully(w, ticket, "agent-r", id);
  assert.equal((await accessToken(w, "agent-r", id, "carol")).status, 200);

  // The provider forgets the client (providers expire DCR clients).
  await as.provider.Client.adapter.destroy(first);
  const r = await accessToken(w, "agent-r", id, "carol");
  assert.equal(r.status, 409, r.text);
  assert.equal(code(r), "connection_expired");
  assert.match(r.json.errors[0].message, /invalid_client.*new client was registered.*connect again/);
  const server = (await w.admin(`/ai/mcp-servers/${id}`)).json;
  const second = server.config.auth.client_id;
  assert.notEqual(second, first);
  assert.ok(await as.provider.Client.find(second), "the new client exists at the provider");
  assert.equal(await status(w, ticket, "agent-r", id), "not_connected");

  // Consent again with the new client, then the provider forgets it too: within the hour,
  // no second registration, the provider's error is reported.
  await connectFully(w, ticket, "agent-r", id);
  await as.provider.Client.adapter.destroy(second);
  const again = await accessToken(w, "agent-r", id, "carol");
  assert.equal(again.status, 502, again.text);
  assert.equal(code(again), "token_request_failed");
  assert.equal((await w.admin(`/ai/mcp-servers/${id}`)).json.config.auth.client_id, second);
});

test("invalid_client at the code exchange registers the DCR client once more; the next consent uses it", async () => {
  const as = await startAuthServer();
  const mcp = await startMcpServer({ issuer: as.issuer });
  const w = await startWorker();
  cleanups.push(() => w.close(), () => mcp.close(), () => as.close());
  const created = await createServer(w, "forgotten", mcp.endpoint, { type: CONFIDENTIAL }, "agent-f");
  const id = created.server.id;
  const first = created.server.config.auth.client_id;
  const ticket = await ticketFor(w, "fay", ["agent-f"]);
  // The person consents; the provider forgets the client before the code is exchanged.
  const params = await consentParams(w, ticket, "agent-f", id);
  await as.provider.Client.adapter.destroy(first);
  const cb = await callback(w, params);
  assert.equal(cb.status, 400, cb.text);
  assert.match(cb.text, /invalid_client/);
  const second = (await w.admin(`/ai/mcp-servers/${id}`)).json.config.auth.client_id;
  assert.notEqual(second, first);
  assert.equal(await status(w, ticket, "agent-f", id), "not_connected");
  await connectFully(w, ticket, "agent-f", id);
  assert.equal((await accessToken(w, "agent-f", id, "fay")).status, 200);
});

test("an issuer change seen in a runtime challenge obtains a new client for the new issuer", async () => {
  const as1 = await startAuthServer();
  const as2 = await startAuthServer();
  let mcp = await startMcpServer({ issuer: as1.issuer });
  const w = await startWorker();
  cleanups.push(() => w.close(), () => mcp.close(), () => as1.close(), () => as2.close());
  const created = await createServer(w, "moving", mcp.endpoint, { type: CONFIDENTIAL }, "agent-i");
  const id = created.server.id;
  assert.equal(created.server.provider.client_issuer, as1.issuer);
  const oldClient = created.server.config.auth.client_id;
  const ticket = await ticketFor(w, "dave", ["agent-i"]);
  await connectFully(w, ticket, "agent-i", id);
  const t = await accessToken(w, "agent-i", id, "dave");
  assert.equal(t.status, 200, t.text);

  // The MCP server moves to another authorization server (same URL).
  const port = new URL(mcp.endpoint).port;
  await mcp.close();
  mcp = await startMcpServer({ issuer: as2.issuer, port: Number(port) });
  const refused = await mcpCall(mcp.endpoint, t.json.access_token);
  assert.equal(refused.status, 401);
  const r = await w.admin(`/ai/agents/agent-i/mcp-servers/${id}/challenge`, {
    method: "POST",
    body: { actor_id: "dave", ...refused },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { action: "reconnect" });
  const server = (await w.admin(`/ai/mcp-servers/${id}`)).json;
  assert.equal(server.provider.issuer, as2.issuer);
  assert.equal(server.provider.client_issuer, as2.issuer);
  assert.notEqual(server.config.auth.client_id, oldClient);
  assert.ok(await as2.provider.Client.find(server.config.auth.client_id));
  assert.equal(server.config.auth.token_url.startsWith(as2.issuer), true);
  // The old connection is not used at the new issuer: the person connects again there.
  assert.equal(await status(w, ticket, "agent-i", id), "not_connected");
  await connectFully(w, ticket, "agent-i", id);
  const t2 = await accessToken(w, "agent-i", id, "dave");
  assert.equal((await mcpCall(mcp.endpoint, t2.json.access_token)).status, 200);
});
