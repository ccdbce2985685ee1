// Negative end-to-end cases of the consent callback (api.md, runtime plane), against the real
// oidc-provider behind the fault proxy (so the tests also see whether a code was exchanged):
// missing, unknown, replayed, expired, concurrent and foreign states; missing code; the
// provider's error (rendered inert); wrong and missing `iss`; doubled parameters; the page's
// headers and postMessage target (the origin of the page that started the flow); connect with a
// return_to outside the allow list or to a provider without PKCE S256. Each case checks that
// nothing was stored. The browser binding itself: consent-binding.test.mjs.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import {
  APP_ORIGIN,
  CONFIDENTIAL,
  accessToken,
  callback,
  code,
  consentParams,
  count,
  createServer,
  entry,
  pageCode,
  snapshot,
  startStack,
  startedFlow,
  stateOf,
  status,
  ticketFor,
} from "./scenario.mjs";

const AGENT = "agent-cb";
let s, w, server;
const tickets = new Map();

before(async () => {
  s = await startStack({ proxy: true });
  w = s.w;
  server = await createServer(w, "callback-target", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
});

after(() => s?.close());

beforeEach(() => s.proxy.reset());

/** A ticket for `actor` on AGENT (one per actor). */
async function as(actor) {
  if (!tickets.has(actor)) tickets.set(actor, await ticketFor(w, actor, [AGENT]));
  return tickets.get(actor);
}

const tokenRequests = () => s.proxy.seen("/token", "POST").length;
const connectionsOf = (actor) => count(w, "connections", "actor_id = ?", actor);

/** The callback answered the 400 error page with `code` and stored nothing for `actor`. */
async function assertRefused(r, code, actor, message) {
  assert.equal(r.status, 400, r.text);
  assert.match(r.headers.get("content-type"), /^text\/html/);
  assert.equal(pageCode(r), code, r.text);
  assert.match(r.text, /Could not connect/);
  if (message) assert.match(r.text, message);
  if (actor) {
    assert.equal(await connectionsOf(actor), 0, "no connection stored");
    assert.equal(await status(w, await as(actor), AGENT, server.id), "not_connected");
  }
}

test("missing state: 400 missing_state, nothing consumed or stored", async () => {
  await stateOf(w, await as("nostate"), AGENT, server.id); // a flow under way, left alone
  const before = await snapshot(w);
  for (const params of [{ code: "abc", iss: s.issuer }, { code: "abc", state: "", iss: s.issuer }, {}]) {
    const r = await callback(w, params);
    await assertRefused(r, "missing_state", "nostate", /without the state of a consent flow.*Start connecting again/s);
  }
  assert.deepEqual(await snapshot(w), before);
  assert.equal(tokenRequests(), 0);
});

test("an unknown state: 400 invalid_state, the pending flows untouched", async () => {
  await stateOf(w, await as("unknown"), AGENT, server.id);
  const before = await snapshot(w);
  const r = await callback(w, { code: "abc", state: "not-a-state-we-issued", iss: s.issuer });
  await assertRefused(r, "invalid_state", "unknown", /not valid.*Start connecting again/s);
  assert.deepEqual(await snapshot(w), before);
});

test("replayed state: the second use gets invalid_state and leaves the connection as it was", async () => {
  const ticket = await as("replay");
  const params = await consentParams(w, ticket, AGENT, server.id);
  const first = await callback(w, params);
  assert.equal(first.status, 200, first.text);
  assert.equal(await status(w, ticket, AGENT, server.id), "connected");
  const row = () => w.db.prepare("SELECT * FROM connections WHERE actor_id = ?").bind("replay").first();
  const stored = await row();

  const again = await callback(w, params);
  assert.equal(again.status, 400);
  assert.equal(pageCode(again), "invalid_state");
  assert.deepEqual(await row(), stored, "the connection is unchanged");
  assert.equal(await connectionsOf("replay"), 1);
  assert.equal(tokenRequests(), 1, "the code was exchanged once");
});

test("expired state (15 minutes passed): 400 state_expired, the state consumed, nothing stored", async () => {
  const ticket = await as("late");
  const params = await consentParams(w, ticket, AGENT, server.id);
  await w.db.prepare("UPDATE pending_consents SET expires_at = 0 WHERE actor_id = ?").bind("late").run();
  const r = await callback(w, params);
  await assertRefused(r, "state_expired", "late", /longer than 15 minutes.*Start connecting again/s);
  assert.equal(await count(w, "pending_consents", "actor_id = ?", "late"), 0, "the state is consumed");
  assert.equal(tokenRequests(), 0, "an expired state exchanges no code");
  assert.equal(pageCode(await callback(w, params)), "invalid_state");
});

test("a state belongs to the actor whose ticket started the flow; another actor's ticket cannot read or undo it", async () => {
  const alice = await as("carol");
  const bob = await as("dave");
  // Carol's flow, finished in her browser: the connection is hers.
  const params = await consentParams(w, alice, AGENT, server.id);
  assert.equal((await callback(w, params)).status, 200);
  const rows = (await w.db.prepare("SELECT actor_id FROM connections WHERE server_id = ?").bind(server.id).all()).results;
  assert.deepEqual(rows.map((r) => r.actor_id).filter((a) => ["carol", "dave"].includes(a)), ["carol"]);
  assert.equal(await status(w, alice, AGENT, server.id), "connected");

  const seenByBob = await entry(w, bob, AGENT, server.id);
  assert.equal(seenByBob.connection_status, "not_connected");
  assert.equal(seenByBob.connected_at, null);
  assert.equal(seenByBob.expires_at, null);
  assert.equal(code(await accessToken(w, AGENT, server.id, "dave")), "not_connected");

  // Bob disconnecting deletes only his own (absent) connection.
  const version = await w.db.prepare("SELECT version FROM connections WHERE actor_id = ?").bind("carol").first("version");
  const d = await w.call(`/service/mcp/agents/${AGENT}/servers/${server.id}/disconnect`, { method: "POST", token: bob });
  assert.equal(d.status, 204);
  assert.equal(await status(w, alice, AGENT, server.id), "connected");
  assert.equal(await w.db.prepare("SELECT version FROM connections WHERE actor_id = ?").bind("carol").first("version"), version);
  assert.equal((await accessToken(w, AGENT, server.id, "carol")).status, 200);
});

test("two concurrent callbacks with one state: exactly one connects", async () => {
  const params = await consentParams(w, await as("twice"), AGENT, server.id);
  const results = await Promise.all([callback(w, params), callback(w, params)]);
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 400]);
  assert.equal(pageCode(results.find((r) => r.status === 400)), "invalid_state");
  assert.equal(await connectionsOf("twice"), 1);
  assert.equal(tokenRequests(), 1, "one code exchange");
});

test("missing code: 400 missing_code, nothing stored", async () => {
  // With the iss this provider always sends (it advertises RFC 9207).
  const state = await stateOf(w, await as("nocode"), AGENT, server.id);
  const r = await callback(w, { state, iss: s.issuer });
  await assertRefused(r, "missing_code", "nocode", /neither an authorization code nor an error/);

  // State only, from a provider that does not advertise iss.
  s.proxy.program({
    path: /^\/\.well-known\/(oauth-authorization-server|openid-configuration)$/,
    transform: (doc) => ({ ...doc, authorization_response_iss_parameter_supported: false }),
  });
  const quiet = await createServer(w, "no-iss", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  assert.equal(quiet.provider.authorization_response_iss_parameter_supported, false);
  const state2 = await stateOf(w, await as("nocode"), AGENT, quiet.id);
  const r2 = await callback(w, { state: state2 });
  assert.equal(pageCode(r2), "missing_code");
  assert.equal(await connectionsOf("nocode"), 0);
  assert.equal(tokenRequests(), 0);
  assert.equal((await w.admin(`/ai/mcp-servers/${quiet.id}`, { method: "DELETE" })).status, 204);
});

test("the provider's error=access_denied: 400 page, its description rendered inert", async () => {
  const state = await stateOf(w, await as("deny"), AGENT, server.id);
  const payload = "<script>alert(1)</script>";
  const r = await callback(w, { error: "access_denied", error_description: payload, state, iss: s.issuer });
  await assertRefused(r, "access_denied", "deny", /Access was not granted \(access_denied\)/);
  assert.ok(!r.text.includes(payload), "the raw markup must not appear");
  assert.ok(r.text.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), r.text);
  // The only script data is the fixed message for the opener (codes, never provider text).
  const data = island(r.text);
  assert.deepEqual(Object.keys(data.message).sort(), ["error", "flow_id", "server_id", "status", "type"]);
  assert.equal(data.message.error, "access_denied");
  assert.ok(!r.headers.get("content-security-policy").includes("unsafe-inline"));
  assert.equal(tokenRequests(), 0);
});

test("iss of another issuer: 400 issuer_mismatch, the code is not exchanged", async () => {
  for (const iss of ["http://127.0.0.1:9", s.as.issuer /* the real provider behind the proxy */]) {
    const params = await consentParams(w, await as("mallory"), AGENT, server.id);
    params.set("iss", iss);
    const r = await callback(w, params);
    await assertRefused(r, "issuer_mismatch", "mallory", /different authorization server.*RFC 9207/s);
  }
  assert.equal(tokenRequests(), 0);
});

test("iss missing though the provider advertises it: 400 issuer_missing", async () => {
  assert.equal(server.provider.authorization_response_iss_parameter_supported, true);
  const params = await consentParams(w, await as("noiss"), AGENT, server.id);
  params.delete("iss");
  const r = await callback(w, params);
  await assertRefused(r, "issuer_missing", "noiss", /promises to identify itself/);
  assert.equal(tokenRequests(), 0);
});

test("a parameter given twice: 400 invalid_request; a doubled state consumes nothing", async () => {
  const ticket = await as("twin");
  const params = await consentParams(w, ticket, AGENT, server.id);
  const before = await count(w, "pending_consents", "actor_id = ?", "twin");
  const doubledState = new URLSearchParams(params);
  doubledState.append("state", "another");
  const r1 = await callback(w, doubledState);
  await assertRefused(r1, "invalid_request", "twin", /parameter state more than once/);
  assert.equal(await count(w, "pending_consents", "actor_id = ?", "twin"), before, "no flow consumed");

  const doubledCode = new URLSearchParams(params);
  doubledCode.append("code", "injected");
  const r2 = await callback(w, doubledCode);
  await assertRefused(r2, "invalid_request", "twin", /parameter code more than once/);
  assert.equal(tokenRequests(), 0);
  assert.equal(pageCode(await callback(w, params)), "invalid_state", "the flow was spent by the refused answer");
});

test("connect to a provider that does not advertise PKCE S256: 409 pkce_not_advertised, unless allowed", async () => {
  s.proxy.program({
    path: /^\/\.well-known\/(oauth-authorization-server|openid-configuration)$/,
    transform: ({ code_challenge_methods_supported: _, ...doc }) => doc,
  });
  const plain = await createServer(w, "no-pkce", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  const allowed = await createServer(w, "no-pkce-allowed", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL, allow_unadvertised_pkce: true } }, [AGENT]);
  assert.equal(plain.provider.pkce_s256_supported, false);
  const ticket = await as("pkce");
  const before = await count(w, "pending_consents");
  const r = await w.call(`/service/mcp/agents/${AGENT}/servers/${plain.id}/connect`, { method: "POST", token: ticket, body: {} });
  assert.equal(r.status, 409, r.text);
  assert.equal(code(r), "pkce_not_advertised");
  assert.match(r.json.errors[0].message, /allow_unadvertised_pkce/);
  assert.equal(await count(w, "pending_consents"), before);
  await stateOf(w, ticket, AGENT, allowed.id);
  assert.equal(await count(w, "pending_consents"), before + 1);
  for (const id of [plain.id, allowed.id]) assert.equal((await w.admin(`/ai/mcp-servers/${id}`, { method: "DELETE" })).status, 204);
});

function island(text) {
  const m = /<script type="application\/json" id="mcp-authlink-consent">([^<]*)<\/script>/.exec(text);
  return m && JSON.parse(m[1]);
}

function assertPageHeaders(r) {
  const csp = r.headers.get("content-security-policy");
  assert.ok(csp, "a CSP");
  assert.ok(!csp.includes("unsafe-inline"), csp);
  assert.ok(!csp.includes("unsafe-eval"), csp);
  const nonce = /script-src 'nonce-([A-Za-z0-9_\-+/=]{16,})'/.exec(csp)?.[1];
  assert.ok(nonce, csp);
  assert.equal(r.headers.get("cache-control"), "no-store");
  assert.equal(r.headers.get("referrer-policy"), "no-referrer");
  for (const [, attrs] of r.text.matchAll(/<script\b([^>]*)>/g)) {
    // The only scripts: the JSON island (never executed) and the nonce'd fixed script.
    assert.ok(attrs.includes('type="application/json"') || attrs.includes(`nonce="${nonce}"`), attrs);
  }
  return nonce;
}

test("callback page: nonce CSP, no-store, no-referrer, and postMessage to exactly the origin that started the flow", async () => {
  const ticket = await as("popup");
  const params = await consentParams(w, ticket, AGENT, server.id);
  const ok = await callback(w, params);
  assert.equal(ok.status, 200, ok.text);
  const n1 = assertPageHeaders(ok);
  assert.deepEqual(island(ok.text), {
    target_origin: APP_ORIGIN,
    message: { type: "mcp-authlink:consent", flow_id: params.flowId, status: "connected", server_id: server.id },
  });
  assert.match(ok.text, /postMessage\(data\.message, data\.target_origin\)/);
  assert.ok(!/["']\*["']/.test(ok.text), "never the wildcard target");

  const { flowId, providerUrl } = await startedFlow(w, ticket, AGENT, server.id);
  const state = new URL(providerUrl).searchParams.get("state");
  const denied = await callback(w, { error: "access_denied", state, iss: s.issuer });
  assert.equal(denied.status, 400);
  const n2 = assertPageHeaders(denied);
  assert.notEqual(n1, n2, "a fresh nonce per page");
  assert.deepEqual(island(denied.text), {
    target_origin: APP_ORIGIN,
    message: { type: "mcp-authlink:consent", flow_id: flowId, status: "error", server_id: server.id, error: "access_denied" },
  });

  // Errors before a flow is known post nothing: there is no trusted origin to post to.
  const unknown = await callback(w, { state: "unknown-state", code: "x" });
  assertPageHeaders(unknown);
  assert.equal(island(unknown.text), null);
});

test("connect with a return_to outside ALLOWED_RETURN_ORIGINS: 400 return_to_not_allowed, no flow stored", async () => {
  const ticket = await as("evil");
  const before = await count(w, "pending_consents");
  const flows = await count(w, "consent_flows");
  for (const url of [
    "https://evil.example/app",
    "*",
    "/relative/path",
    "http://127.0.0.1:3001/app",
    "http://user:pw@127.0.0.1:3000/app",
    "javascript:alert(1)//127.0.0.1:3000",
    "https://127.0.0.1:3000/app",
  ]) {
    const r = await w.call(`/service/mcp/agents/${AGENT}/servers/${server.id}/connect`, {
      method: "POST",
      token: ticket,
      body: { return_to: url },
    });
    assert.equal(r.status, 400, `${url}: ${r.text}`);
    assert.equal(code(r), "return_to_not_allowed");
    assert.equal(r.json.errors[0].path, "return_to");
    assert.match(r.json.errors[0].message, /ALLOWED_RETURN_ORIGINS/);
  }
  const wrongType = await w.call(`/service/mcp/agents/${AGENT}/servers/${server.id}/connect`, { method: "POST", token: ticket, body: { return_to: 3000 } });
  assert.equal(wrongType.status, 400);
  assert.equal(code(wrongType), "invalid_type");
  // The old field is refused by name, not ignored.
  const old = await w.call(`/service/mcp/agents/${AGENT}/servers/${server.id}/connect`, { method: "POST", token: ticket, body: { return_origin: APP_ORIGIN } });
  assert.equal(old.status, 400);
  assert.equal(code(old), "unknown_field");
  assert.equal(old.json.errors[0].path, "return_origin");
  assert.equal(await count(w, "pending_consents"), before);
  assert.equal(await count(w, "consent_flows"), flows);
  assert.equal(s.proxy.exchanges.length, 0);
});

test("connect with a body that is not a JSON object: 400 invalid_json, no flow stored", async () => {
  const ticket = await as("sloppy");
  const before = await count(w, "pending_consents");
  for (const body of ["{not json", "[1]", '"text"']) {
    const r = await w.call(`/service/mcp/agents/${AGENT}/servers/${server.id}/connect`, { method: "POST", token: ticket, body });
    assert.equal(r.status, 400, `${body}: ${r.text}`);
    assert.equal(code(r), "invalid_json");
  }
  assert.equal(await count(w, "pending_consents"), before);
  // An empty body is fine: return_to is optional.
  const ok = await w.call(`/service/mcp/agents/${AGENT}/servers/${server.id}/connect`, { method: "POST", token: ticket });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.requires_oauth, true);
});
