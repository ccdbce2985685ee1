// A server's config changing while its secrets are in use (issue 9 items 4 and 5), end to end
// with two real oidc-provider instances, A and B, each with its MCP server behind the fault
// proxy (which records what reaches each provider). Provider A's token endpoint can be held
// (a gate between the proxy and A) to open the window in which the config moves to B: a
// consent's code and PKCE verifier, and a connection's refresh token, must never reach B's
// token endpoint, and nothing made under A is stored under B's config.
// Last, the deployment stops allowing private targets: a stored loopback token URL is a 400
// `blocked_target` on every route that would call it.
import assert from "node:assert/strict";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { root } from "../node/fixtures.mjs";
import { closeServer, startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { startFaultProxy } from "./faults.mjs";
import { DEV_BINDINGS, startWorker } from "./harness.mjs";
import { expireAccessToken, storedTokens } from "./platform.mjs";
import {
  CONFIDENTIAL,
  accessToken,
  callback,
  code,
  connect,
  consentParams,
  count,
  createServer,
  flowStatus,
  pageCode,
  registerClient,
  startConsent,
  ticketFor,
} from "./scenario.mjs";

const AGENT = "agent-race";
let w, A, B;

/**
 * A pass-through HTTP proxy in front of the provider at `target`, for the fault proxy to use
 * as its authorization server: it keeps the Host header (so the provider still speaks in the
 * fault proxy's URLs) and writes the provider's own origin, where the provider names it (the
 * metadata's issuer, the `iss` of a redirect), as its own, which the fault proxy then
 * rewrites to the issuer the Worker sees. `hold()` makes the next POST /token wait: `arrived`
 * resolves when it is held, `release()` lets it through to the provider.
 */
async function startGate(target) {
  const up = new URL(target);
  let held = null;
  let origin;
  const rewrite = (text) =>
    text.split(up.origin).join(origin).split(encodeURIComponent(up.origin)).join(encodeURIComponent(origin));
  const server = createHttpServer((req, res) => {
    const go = () => {
      const out = httpRequest(
        { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const chunks = [];
          answer.on("data", (c) => chunks.push(c));
          answer.on("end", () => {
            const headers = { ...answer.headers };
            delete headers["transfer-encoding"];
            if (headers.location) headers.location = rewrite(headers.location);
            let body = Buffer.concat(chunks);
            if (/json|text/.test(headers["content-type"] ?? "")) body = Buffer.from(rewrite(body.toString("utf8")));
            headers["content-length"] = body.length;
            res.writeHead(answer.statusCode, headers);
            res.end(body);
          });
        },
      );
      out.on("error", () => res.destroy());
      req.pipe(out);
    };
    const path = new URL(req.url, up).pathname;
    if (held && req.method === "POST" && path === "/token") {
      const h = held;
      held = null;
      h.arrive();
      h.released.then(go);
    } else {
      go();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  return {
    url: origin,
    hold() {
      let arrive, release;
      const arrived = new Promise((r) => (arrive = r));
      const released = new Promise((r) => (release = r));
      held = { arrive, released };
      return { arrived, release };
    },
    close: () => closeServer(server),
  };
}

/** A provider with its MCP server, behind a gate and the fault proxy. */
async function startSide() {
  const as = await startAuthServer();
  const gate = await startGate(as.issuer);
  // The MCP server names the gate as its authorization server (the fault proxy rewrites it);
  // no test here calls it with a token.
  const mcp = await startMcpServer({ issuer: gate.url });
  const proxy = await startFaultProxy({ authServer: gate.url, mcpEndpoint: mcp.endpoint });
  return {
    as,
    mcp,
    gate,
    proxy,
    endpoint: proxy.endpoint,
    issuer: proxy.issuer,
    /** Requests that reached this provider's token endpoint (code or refresh grants). */
    tokenRequests: () => proxy.seen("/token", "POST").length,
    grants: (type) => proxy.seen("/token", "POST").filter((e) => new URLSearchParams(e.body).get("grant_type") === type).length,
    revocations: () => proxy.seen("/token/revocation", "POST").length,
    close: async () => {
      await proxy.close();
      await gate.close();
      await mcp.close();
      await as.close();
    },
  };
}

before(async () => {
  A = await startSide();
  B = await startSide();
  w = await startWorker();
});

after(async () => {
  await w?.close();
  await A?.close();
  await B?.close();
});

const connectionsOf = (id) => count(w, "connections", "server_id = ?1", id);
const patch = (id, body) => w.admin(`/ai/mcp-servers/${id}`, { method: "PATCH", body });

async function serverUnderA(name) {
  return createServer(w, name, { endpoint: A.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
}

async function connectUnderA(id, actor) {
  const ticket = await ticketFor(w, actor, [AGENT]);
  const params = await consentParams(w, ticket, AGENT, id);
  const cb = await callback(w, params);
  assert.equal(cb.status, 200, cb.text);
  assert.match(cb.text, /Connected/);
  return ticket;
}

test("the config moves to provider B while A exchanges the code: nothing reaches B, nothing is stored, the page says server_changed", async () => {
  const server = await serverUnderA("race-exchange");
  const ticket = await ticketFor(w, "alice", [AGENT]);
  const params = await consentParams(w, ticket, AGENT, server.id);
  const bBefore = B.tokenRequests();

  const held = A.gate.hold();
  const pending = callback(w, params);
  await held.arrived; // the code is at A's token endpoint, unanswered
  const moved = await patch(server.id, { config: { endpoint: B.endpoint } });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json.config.endpoint, B.endpoint);
  assert.equal(moved.json.connections_dropped, true);
  held.release();

  const page = await pending;
  assert.equal(page.status, 400, page.text);
  assert.equal(pageCode(page), "server_changed");
  assert.match(page.text, /configuration was changed while you were connecting/);
  assert.equal(A.grants("authorization_code"), 1, "the code went to A, which issued it");
  assert.equal(await connectionsOf(server.id), 0, "A's tokens are not stored under B's config");
  const flow = (await flowStatus(w, ticket, params.flowId)).json;
  assert.equal(flow.status, "error");
  assert.equal(flow.error.code, "server_changed");

  // Nothing made under A is left to be sent to B later.
  const r = await accessToken(w, AGENT, server.id, "alice");
  assert.equal(r.status, 409, r.text);
  assert.equal(code(r), "not_connected");
  assert.equal(B.tokenRequests(), bBefore, "nothing reached B's token endpoint");
});

test("the token endpoint moves to B between the consent and its callback: the code and verifier are not sent anywhere", async () => {
  const server = await serverUnderA("race-callback");
  const ticket = await ticketFor(w, "bob", [AGENT]);
  const params = await consentParams(w, ticket, AGENT, server.id);
  // Another person's connect, not yet started in the browser.
  const unstarted = await connect(w, await ticketFor(w, "bea", [AGENT]), AGENT, server.id);
  const [aBefore, bBefore] = [A.tokenRequests(), B.tokenRequests()];

  // Same endpoint, issuer and client: only the token endpoint is now B's.
  const moved = await patch(server.id, { config: { auth: { token_url: `${B.issuer}/token` } } });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json.config.auth.token_url, `${B.issuer}/token`);
  assert.equal(moved.json.config.auth.client_id, server.config.auth.client_id);
  assert.equal(moved.json.connections_dropped, true, "a new token endpoint voids what the old one issued");
  assert.equal((await flowStatus(w, ticket, params.flowId)).json.error.code, "server_changed");

  const page = await callback(w, params);
  assert.equal(page.status, 400, page.text);
  assert.equal(pageCode(page), "server_changed");
  assert.equal(B.tokenRequests(), bBefore, "the code and verifier did not reach B");
  assert.equal(A.tokenRequests(), aBefore, "nothing was sent at all");
  assert.equal(await connectionsOf(server.id), 0);
  // The state was consumed: the same callback again is an unknown state.
  assert.equal(pageCode(await callback(w, params)), "invalid_state");
  // The start route does not send a browser to the old config's authorization URL.
  const start = await startConsent(w, unstarted);
  assert.equal(start.status, 400, start.text);
  assert.equal(start.location, null);
  assert.equal(pageCode(start), "server_changed");
});

test("the token endpoint moves to B while A refreshes: the refresh token never reaches B", async () => {
  const server = await serverUnderA("race-refresh");
  await connectUnderA(server.id, "carol");
  await expireAccessToken(w, server.id, "carol");
  const [bBefore, revocations] = [B.tokenRequests(), A.revocations()];

  const held = A.gate.hold();
  const refreshing = accessToken(w, AGENT, server.id, "carol");
  await held.arrived; // the refresh token is at A's token endpoint, unanswered
  const moved = await patch(server.id, { config: { auth: { token_url: `${B.issuer}/token` } } });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json.connections_dropped, true);
  held.release();

  // The patch revoked the connection at A (its own provider) before dropping it, so A then
  // refuses the held refresh; the refused refresh stores nothing.
  assert.equal(A.revocations(), revocations + 1, "revoked at A, not at B");
  const r = await refreshing;
  assert.equal(r.status, 409, r.text);
  assert.equal(code(r), "connection_expired");
  assert.equal(await connectionsOf(server.id), 0, "A's refreshed tokens are not kept under B's token endpoint");
  const again = await accessToken(w, AGENT, server.id, "carol");
  assert.equal(code(again), "not_connected");
  assert.equal(B.tokenRequests(), bBefore, "nothing reached B's token endpoint");
});

test("a config change that keeps connections moves them along; one made under another config version is neither refreshed nor revoked", async () => {
  const server = await serverUnderA("race-version");
  await connectUnderA(server.id, "dave");
  await connectUnderA(server.id, "erin");
  const scopes = await patch(server.id, { config: { auth: { allow_unadvertised_pkce: true } } });
  assert.equal(scopes.status, 200, scopes.text);
  assert.equal(scopes.json.connections_dropped, false);
  const versions = await w.db
    .prepare("SELECT s.config_version AS server, c.config_version AS conn FROM connections c JOIN servers s ON s.id = c.server_id WHERE c.server_id = ?1")
    .bind(server.id)
    .all();
  assert.equal(versions.results.length, 2);
  for (const v of versions.results) assert.equal(v.conn, v.server, "kept connections are at the new version");
  assert.ok(versions.results[0].server > 1, "the config write bumped the version");

  // Kept: it refreshes at A as before.
  await expireAccessToken(w, server.id, "dave");
  let refreshes = A.grants("refresh_token");
  const ok = await accessToken(w, AGENT, server.id, "dave");
  assert.equal(ok.status, 200, ok.text);
  assert.equal(A.grants("refresh_token"), refreshes + 1);

  // A connection made under the previous config (as one stored across a config write would
  // be): not refreshed with this config's token endpoint, and expired.
  await expireAccessToken(w, server.id, "dave");
  await w.db.prepare("UPDATE connections SET config_version = config_version - 1 WHERE server_id = ?1 AND actor_id = 'dave'").bind(server.id).run();
  refreshes = A.grants("refresh_token");
  const stale = await accessToken(w, AGENT, server.id, "dave");
  assert.equal(stale.status, 409, stale.text);
  assert.equal(code(stale), "connection_expired");
  assert.equal(A.grants("refresh_token"), refreshes, "no refresh was sent");
  const row = await w.db.prepare("SELECT status, last_error FROM connections WHERE server_id = ?1 AND actor_id = 'dave'").bind(server.id).first();
  assert.deepEqual({ ...row }, { status: "expired", last_error: "server_changed" });

  // A connection newer than the config this request read: retry, nothing sent.
  await expireAccessToken(w, server.id, "erin");
  await w.db.prepare("UPDATE connections SET config_version = config_version + 1 WHERE server_id = ?1 AND actor_id = 'erin'").bind(server.id).run();
  const ahead = await accessToken(w, AGENT, server.id, "erin");
  assert.equal(ahead.status, 409, ahead.text);
  assert.equal(code(ahead), "connection_changed");
  assert.equal(A.grants("refresh_token"), refreshes, "no refresh was sent");

  // Revocation follows the same rule: the connection is deleted, its token is not sent.
  const revocations = A.revocations();
  const { id } = await w.db.prepare("SELECT id FROM connections WHERE server_id = ?1 AND actor_id = 'erin'").bind(server.id).first();
  assert.ok((await storedTokens(w, server.id, "erin")).refresh_token);
  const del = await w.admin(`/ai/connections/${id}`, { method: "DELETE" });
  assert.equal(del.status, 204, del.text);
  assert.equal(A.revocations(), revocations, "the token was not sent to the revocation endpoint");
  assert.equal(await count(w, "connections", "id = ?1", id), 0);
  const events = await w.admin("/ai/events?type=connection.disconnected&limit=500");
  const gone = events.json.items.filter((e) => e.type === "connection.disconnected" && e.data.connection_id === id);
  assert.equal(gone.length, 1, events.text);
  assert.equal(gone[0].data.revocation, "revocation_not_configured");
});

// Last: it reconfigures this Worker. The deployment stops allowing private targets (and serves
// over https); the stored servers' token URLs are loopback addresses.
test("a token URL the deployment refuses: 400 blocked_target on the access-token route (both grants) and the check route", async () => {
  const server = await serverUnderA("blocked-user");
  await connectUnderA(server.id, "frank");
  await expireAccessToken(w, server.id, "frank");
  const client = await registerClient(A.issuer, {
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope: "mcp:tools",
  });
  const machine = await createServer(
    w,
    "blocked-machine",
    {
      endpoint: A.endpoint,
      auth: { type: "oauth_client_credentials", client_id: client.client_id, client_secret: client.client_secret, scopes: ["mcp:tools"] },
    },
    [AGENT],
  );
  const t = await accessToken(w, AGENT, machine.id, "svc");
  assert.equal(t.status, 200, t.text);
  await w.db.prepare("DELETE FROM client_tokens WHERE server_id = ?1").bind(machine.id).run();
  const before = A.tokenRequests();

  const out = join(root, "build", "worker");
  await w.mf.setOptions({
    modules: true,
    modulesRoot: out,
    scriptPath: join(out, "index.js"),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-07-30",
    d1Databases: { DB: "mcp-authlink-test" },
    bindings: { ...DEV_BINDINGS, ALLOW_PRIVATE_TARGETS: "false", PUBLIC_ORIGIN: "https://authlink.example" },
  });
  w.db = await w.mf.getD1Database("DB");
  assert.equal(await count(w, "connections", "actor_id = 'frank'"), 1, "D1 kept its rows");

  const refused = (r) => {
    assert.equal(r.status, 400, r.text);
    assert.equal(code(r), "blocked_target", r.text);
    const e = r.json.errors[0];
    assert.equal(e.path, "config.auth.token_url");
    assert.match(e.message, /token endpoint is a target this deployment refuses to call/);
    assert.match(e.message, /Fix config\.auth\.token_url/);
  };
  refused(await accessToken(w, AGENT, server.id, "frank"));
  refused(await accessToken(w, AGENT, machine.id, "svc"));
  refused(await w.admin(`/ai/agents/${AGENT}/mcp-servers/${server.id}/check`, { method: "POST", body: { actor_id: "frank" } }));
  refused(await w.admin(`/ai/agents/${AGENT}/mcp-servers/${machine.id}/check`, { method: "POST", body: {} }));
  assert.equal(A.tokenRequests(), before, "nothing was sent to the refused target");
  const row = await w.db.prepare("SELECT status, refresh_until FROM connections WHERE actor_id = 'frank'").first();
  assert.deepEqual({ ...row }, { status: "connected", refresh_until: null }, "the connection is kept, its lease released");
});
