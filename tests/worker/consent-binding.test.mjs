// Consent bound to the browser that started it (browser.md §1), end to end against the real
// oidc-provider behind the fault proxy (so the tests see whether a code was exchanged):
// the mallory/victor attack through each URL mallory can see, the start route's Origin and
// start-token rules, one pending consent per actor and server, the per-actor rate limits,
// the flow-status route, redirect mode's fragment, the runtime discover route and CORS, and
// the callback page's handling of provider text and of failures after the code exchange.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { root } from "../node/fixtures.mjs";
import { authorizeByHttp } from "../peers/auth-server.mjs";
import { DEV_BINDINGS, ORIGIN } from "./harness.mjs";
import {
  APP_ORIGIN,
  CALLBACK,
  CONFIDENTIAL,
  PUBLIC,
  accessToken,
  callback,
  code,
  connect,
  consentParams,
  count,
  createServer,
  flowStatus,
  newBrowser,
  pageCode,
  sleep,
  startConsent,
  startStack,
  startedFlow,
  status,
  ticketFor,
} from "./scenario.mjs";

const AGENT = "agent-bind";
let s, w, server;
const tickets = new Map();

before(async () => {
  s = await startStack({ proxy: true });
  w = s.w;
  server = await createServer(w, "bound", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
});

after(() => s?.close());

beforeEach(() => s.proxy.reset());

async function as(actor) {
  if (!tickets.has(actor)) tickets.set(actor, await ticketFor(w, actor, [AGENT]));
  return tickets.get(actor);
}

const tokenRequests = () => s.proxy.seen("/token", "POST").length;
const connectionsOf = (actor) => count(w, "connections", "actor_id = ?", actor);

/** A 400 HTML page with `code`, setting no cookie. */
function assertPage400(r, expected, message) {
  assert.equal(r.status, 400, r.text);
  assert.match(r.headers.get("content-type"), /^text\/html/);
  assert.equal(pageCode(r), expected, r.text);
  assert.match(r.text, /Could not connect/);
  if (message) assert.match(r.text, message);
  assert.deepEqual(r.headers.getSetCookie(), [], "nothing set");
  assert.equal(/<script/i.test(r.text), false, "the page notifies no one");
}

/** Waits until at least `need` seconds remain in the current minute (the rate windows). */
async function roomInMinute(need) {
  const left = 60 - (Math.floor(Date.now() / 1000) % 60);
  if (left < need) await sleep(left * 1000 + 200);
}

test("connect answers a consent form and never a provider URL", async () => {
  const c = await connect(w, await as("shape"), AGENT, server.id);
  assert.deepEqual(Object.keys(c).sort(), ["consent", "expires_at", "flow_id", "requires_oauth"]);
  assert.equal(c.requires_oauth, true);
  assert.match(c.flow_id, /^[A-Za-z0-9_-]{20,}$/);
  assert.deepEqual(c.consent.url, `${ORIGIN}/service/mcp/consent/start`);
  assert.equal(c.consent.method, "POST");
  assert.deepEqual(Object.keys(c.consent.fields).sort(), ["flow_id", "start_token"]);
  assert.equal(c.consent.fields.flow_id, c.flow_id);
  const text = JSON.stringify(c);
  assert.ok(!text.includes(s.issuer) && !text.includes(s.as.issuer), "no provider URL in the answer");
  assert.ok(!/state=|code_challenge/.test(text), text);
  const row = await w.db.prepare("SELECT * FROM pending_consents WHERE flow_id = ?").bind(c.flow_id).first();
  assert.notEqual(row.start_hash, c.consent.fields.start_token, "the start token is stored hashed");
  assert.equal(row.start_hash.length, 64);
  assert.equal(row.binding_hash, null);
});

test("the start route sets an HttpOnly, SameSite=Lax binding cookie scoped to the consent path and answers 303 to the provider", async () => {
  const c = await connect(w, await as("starter"), AGENT, server.id);
  const browser = newBrowser();
  const st = await startConsent(w, c, { browser });
  assert.equal(st.status, 303, st.text);
  const provider = new URL(st.location);
  assert.equal(provider.origin, s.issuer);
  assert.ok(provider.searchParams.get("state"));
  assert.equal(provider.searchParams.get("code_challenge_method"), "S256");
  assert.equal(st.setCookies.length, 1);
  const [cookie] = st.setCookies;
  // Over http (loopback development) the cookie cannot be __Host-/Secure.
  assert.match(cookie, new RegExp(`^mcp-authlink-consent-${c.flow_id}=[A-Za-z0-9_-]{40,};`));
  assert.match(cookie, /; HttpOnly/);
  assert.match(cookie, /; SameSite=Lax/);
  assert.match(cookie, /; Path=\/service\/mcp\/consent(;|$)/);
  assert.match(cookie, /; Max-Age=900/);
  const binding = cookie.split(";")[0].split("=")[1];
  const row = await w.db.prepare("SELECT * FROM pending_consents WHERE flow_id = ?").bind(c.flow_id).first();
  assert.equal(row.start_hash, null, "the start token is consumed");
  assert.equal(row.binding_hash.length, 64);
  assert.notEqual(row.binding_hash, binding, "the binding is stored hashed");
  assert.equal(row.opener_origin, APP_ORIGIN);
  assert.equal(st.headers.get("cache-control"), "no-store");
  assert.equal(st.headers.get("referrer-policy"), "no-referrer");
});

test("start from a foreign origin or without Origin: 400 page, nothing set, the token still usable by the app", async () => {
  const c = await connect(w, await as("origins"), AGENT, server.id);
  for (const origin of [null, "https://evil.example", "http://127.0.0.1:3001", "null", `${APP_ORIGIN}/`]) {
    const browser = newBrowser();
    const r = await startConsent(w, c, { origin, browser });
    assertPage400(r, "origin_not_allowed", /not started from a page of the app/);
    assert.equal(browser.cookies.size, 0);
  }
  const row = await w.db.prepare("SELECT start_hash, binding_hash FROM pending_consents WHERE flow_id = ?").bind(c.flow_id).first();
  assert.notEqual(row.start_hash, null, "a refused start consumes nothing");
  assert.equal(row.binding_hash, null);
  assert.equal((await startConsent(w, c, { browser: newBrowser() })).status, 303);
});

test("a replayed, expired, unknown or missing start token: 400 page, nothing set", async () => {
  const c = await connect(w, await as("replayer"), AGENT, server.id);
  assert.equal((await startConsent(w, c, { browser: newBrowser() })).status, 303);
  const stored = await w.db.prepare("SELECT binding_hash FROM pending_consents WHERE flow_id = ?").bind(c.flow_id).first("binding_hash");
  assertPage400(await startConsent(w, c, { browser: newBrowser() }), "start_token_invalid", /already used, has expired/);
  assert.equal(
    await w.db.prepare("SELECT binding_hash FROM pending_consents WHERE flow_id = ?").bind(c.flow_id).first("binding_hash"),
    stored,
    "a replay does not rebind the flow",
  );

  const late = await connect(w, await as("late-start"), AGENT, server.id);
  await w.db.prepare("UPDATE pending_consents SET start_expires_at = ?2 WHERE flow_id = ?1").bind(late.flow_id, Math.floor(Date.now() / 1000)).run();
  assertPage400(await startConsent(w, late, { browser: newBrowser() }), "start_token_invalid");

  const other = await connect(w, await as("guess"), AGENT, server.id);
  for (const fields of [
    { flow_id: other.flow_id, start_token: "guessed" },
    { flow_id: c.flow_id, start_token: other.consent.fields.start_token },
    { flow_id: other.flow_id },
    {},
  ]) {
    assertPage400(await startConsent(w, other, { browser: newBrowser(), fields }), "start_token_invalid");
  }
  assert.equal((await startConsent(w, other, { browser: newBrowser() })).status, 303, "the real token still works");
});

test("mallory's provider URL completed by victor in his browser: 400 binding_missing, nothing stored for anyone, the flow dead", async () => {
  const mallory = await as("mallory");
  const victor = await as("victor");
  const { flowId, providerUrl } = await startedFlow(w, mallory, AGENT, server.id);
  // Victor logs in and approves at the provider; its redirect lands in victor's browser.
  const landed = new URL(await authorizeByHttp(providerUrl, { login: "victor" }));
  assert.equal(`${landed.origin}${landed.pathname}`, `${ORIGIN}${CALLBACK}`);
  const victorsBrowser = newBrowser();
  const r = await callback(w, landed.searchParams, { browser: victorsBrowser });
  assertPage400(r, "binding_missing", /This browser did not start this consent.*nothing was connected, for anyone/s);
  assert.equal(tokenRequests(), 0, "the code was not exchanged");
  for (const actor of ["mallory", "victor"]) assert.equal(await connectionsOf(actor), 0, actor);
  assert.equal(await status(w, mallory, AGENT, server.id), "not_connected");
  assert.equal(code(await accessToken(w, AGENT, server.id, "mallory")), "not_connected");
  // Mallory replaying the same callback URL in her own (bound) browser gets nothing either.
  const replay = await callback(w, landed.searchParams);
  assert.equal(replay.status, 400);
  assert.equal(pageCode(replay), "invalid_state");
  assert.equal(tokenRequests(), 0);
  assert.equal(await connectionsOf("mallory"), 0);
  // The starter's client learns why.
  const f = await flowStatus(w, mallory, flowId);
  assert.equal(f.status, 200, f.text);
  assert.equal(f.json.status, "error");
  assert.equal(f.json.error.code, "binding_missing");
  assert.equal(code(await flowStatus(w, victor, flowId)), "flow_not_found");
});

test("a browser whose cookie for the flow is wrong: 400 binding_mismatch, nothing stored", async () => {
  const mallory = await as("mallory2");
  const params = await consentParams(w, mallory, AGENT, server.id, {}, { login: "victor2" });
  const forged = newBrowser();
  forged.cookies.set(`mcp-authlink-consent-${params.flowId}`, "a".repeat(43));
  const r = await callback(w, params, { browser: forged });
  assertPage400(r, "binding_mismatch", /belongs to another browser/);
  assert.equal(tokenRequests(), 0);
  assert.equal(await connectionsOf("mallory2"), 0);
  assert.equal(await connectionsOf("victor2"), 0);
  assert.equal(pageCode(await callback(w, params)), "invalid_state", "the flow is spent");
});

test("mallory's start form submitted in victor's browser: refused without an allowed Origin; after mallory's start, a replay", async () => {
  const c = await connect(w, await as("mallory3"), AGENT, server.id);
  const victorsBrowser = newBrowser();
  // A page of another site (or a bare link) cannot send the app's Origin.
  assertPage400(await startConsent(w, c, { origin: "https://mallory.example", browser: victorsBrowser }), "origin_not_allowed");
  assertPage400(await startConsent(w, c, { origin: null, browser: victorsBrowser }), "origin_not_allowed");
  // Mallory starts in her browser; the fields are then spent.
  assert.equal((await startConsent(w, c, { browser: newBrowser() })).status, 303);
  assertPage400(await startConsent(w, c, { browser: victorsBrowser }), "start_token_invalid");
  assert.equal(victorsBrowser.cookies.size, 0);
});

test("a flow never started through the start route cannot complete", async () => {
  const c = await connect(w, await as("unstarted"), AGENT, server.id);
  const row = await w.db.prepare("SELECT sealed FROM pending_consents WHERE flow_id = ?").bind(c.flow_id).first();
  assert.ok(row);
  // Even with the state (which only the start route reveals), the callback refuses.
  const started = await startConsent(w, c, { browser: newBrowser() });
  const state = new URL(started.location).searchParams.get("state");
  await w.db.prepare("UPDATE pending_consents SET binding_hash = NULL WHERE flow_id = ?").bind(c.flow_id).run();
  assertPage400(await callback(w, { code: "x", state, iss: s.issuer, s: server.id }), "binding_missing");
});

test("one pending consent per actor and server: a new connect replaces the old one", async () => {
  const ticket = await as("again");
  const first = await connect(w, ticket, AGENT, server.id);
  const second = await connect(w, ticket, AGENT, server.id);
  assert.equal(await count(w, "pending_consents", "actor_id = ? AND server_id = ?", "again", server.id), 1);
  const f1 = await flowStatus(w, ticket, first.flow_id);
  assert.equal(f1.json.status, "error");
  assert.equal(f1.json.error.code, "consent_replaced");
  assert.equal((await flowStatus(w, ticket, second.flow_id)).json.status, "pending");
  assertPage400(await startConsent(w, first, { browser: newBrowser() }), "start_token_invalid");
  // The replaced flow's callback, had it been started, finds nothing.
  const third = await connect(w, ticket, AGENT, server.id);
  const st = await startConsent(w, third);
  const fourth = await connect(w, ticket, AGENT, server.id);
  const r = await callback(w, { code: "x", state: new URL(st.location).searchParams.get("state"), iss: s.issuer });
  assert.equal(pageCode(r), "invalid_state");
  // Another actor's flow for the same server is untouched.
  const other = await connect(w, await as("again-other"), AGENT, server.id);
  await connect(w, ticket, AGENT, server.id);
  assert.equal((await flowStatus(w, await as("again-other"), other.flow_id)).json.status, "pending");
  assert.equal((await flowStatus(w, ticket, fourth.flow_id)).json.error.code, "consent_replaced");
});

test("flow status: pending, then connected; the starter's ticket only", async () => {
  const ticket = await as("watcher");
  const { flowId, providerUrl } = await startedFlow(w, ticket, AGENT, server.id);
  const pending = await flowStatus(w, ticket, flowId);
  assert.equal(pending.status, 200, pending.text);
  assert.deepEqual(pending.json, { flow_id: flowId, server_id: server.id, status: "pending" });
  assert.equal(pending.headers.get("cache-control"), "no-store");
  const landed = new URL(await authorizeByHttp(providerUrl));
  assert.equal((await callback(w, landed.searchParams)).status, 200);
  assert.deepEqual((await flowStatus(w, ticket, flowId)).json, { flow_id: flowId, server_id: server.id, status: "connected" });

  const stranger = await flowStatus(w, await as("stranger"), flowId);
  assert.equal(stranger.status, 404);
  assert.equal(code(stranger), "flow_not_found");
  assert.equal(code(await flowStatus(w, ticket, "no-such-flow")), "flow_not_found");
  const anonymous = await w.call(`/service/mcp/consent/flows/${flowId}`);
  assert.equal(anonymous.status, 401);
  assert.equal(code(anonymous), "invalid_ticket");
});

test("flow status: the provider's refusal and an expired consent are errors with a code and a message", async () => {
  const ticket = await as("refused");
  const { flowId, providerUrl } = await startedFlow(w, ticket, AGENT, server.id);
  const state = new URL(providerUrl).searchParams.get("state");
  assert.equal((await callback(w, { error: "access_denied", state, iss: s.issuer, s: server.id })).status, 400);
  const f = (await flowStatus(w, ticket, flowId)).json;
  assert.equal(f.status, "error");
  assert.equal(f.error.code, "access_denied");
  assert.match(f.error.message, /Access was not granted/);

  const slow = await connect(w, await as("slow"), AGENT, server.id);
  await w.db.prepare("UPDATE consent_flows SET expires_at = 1 WHERE flow_id = ?").bind(slow.flow_id).run();
  const e = (await flowStatus(w, await as("slow"), slow.flow_id)).json;
  assert.equal(e.status, "error");
  assert.equal(e.error.code, "consent_expired");
  assert.match(e.error.message, /15 minutes/);
});

test("a server deleted or reconfigured while its consent is under way: the flow ends as server_changed at once", async () => {
  const ticket = await as("orphan");
  const doomed = await createServer(w, "doomed", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  const { flowId, providerUrl } = await startedFlow(w, ticket, AGENT, doomed.id);
  assert.equal((await w.admin(`/ai/mcp-servers/${doomed.id}`, { method: "DELETE" })).status, 204);
  const f = (await flowStatus(w, ticket, flowId)).json;
  assert.equal(f.status, "error");
  assert.equal(f.error.code, "server_changed");
  assert.match(f.error.message, /deleted or its configuration changed/);
  const landed = new URL(await authorizeByHttp(providerUrl));
  assert.equal(pageCode(await callback(w, landed.searchParams)), "invalid_state");

  const morph = await createServer(w, "morph", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  const second = await startedFlow(w, ticket, AGENT, morph.id);
  // Every config write ends the flows under way (they were started under the old config),
  // also one that keeps the connections (a change of scopes).
  const scoped = await w.admin(`/ai/mcp-servers/${morph.id}`, {
    method: "PATCH",
    body: { config: { auth: { scopes: ["mcp:tools"] } } },
  });
  assert.equal(scoped.status, 200, scoped.text);
  assert.equal(scoped.json.connections_dropped, false);
  assert.equal((await flowStatus(w, ticket, second.flowId)).json.error.code, "server_changed");
  // A new client (another auth type registers another one) drops the connections too.
  const again = await startedFlow(w, ticket, AGENT, morph.id);
  const patch = await w.admin(`/ai/mcp-servers/${morph.id}`, {
    method: "PATCH",
    body: { config: { auth: { type: PUBLIC } } },
  });
  assert.equal(patch.status, 200, patch.text);
  assert.equal(patch.json.connections_dropped, true);
  assert.equal((await flowStatus(w, ticket, again.flowId)).json.error.code, "server_changed");
  // A rename keeps the flow.
  const third = await startedFlow(w, ticket, AGENT, morph.id);
  assert.equal((await w.admin(`/ai/mcp-servers/${morph.id}`, { method: "PATCH", body: { name: "renamed" } })).status, 200);
  assert.equal((await flowStatus(w, ticket, third.flowId)).json.status, "pending");
});

test("redirect mode: the callback sends the browser back to return_to with the outcome in the fragment", async () => {
  const ticket = await as("redirected");
  const returnTo = `${APP_ORIGIN}/settings/mcp?tab=servers#old`;
  const params = await consentParams(w, ticket, AGENT, server.id, { return_to: returnTo });
  const r = await callback(w, params);
  assert.equal(r.status, 303, r.text);
  const back = new URL(r.headers.get("location"));
  assert.equal(`${back.origin}${back.pathname}${back.search}`, `${APP_ORIGIN}/settings/mcp?tab=servers`);
  const outcome = JSON.parse(new URLSearchParams(back.hash.slice(1)).get("mcp-authlink"));
  assert.deepEqual(outcome, { flow_id: params.flowId, status: "connected", server_id: server.id });
  assert.match(r.headers.getSetCookie()[0], new RegExp(`^mcp-authlink-consent-${params.flowId}=; Max-Age=0`));
  assert.equal(await status(w, ticket, AGENT, server.id), "connected");

  const { flowId, providerUrl } = await startedFlow(w, ticket, AGENT, server.id, { return_to: `${APP_ORIGIN}/x` });
  const state = new URL(providerUrl).searchParams.get("state");
  const denied = await callback(w, { error: "access_denied", state, iss: s.issuer, s: server.id });
  assert.equal(denied.status, 303);
  const deniedBack = new URL(denied.headers.get("location"));
  assert.deepEqual(JSON.parse(new URLSearchParams(deniedBack.hash.slice(1)).get("mcp-authlink")), {
    flow_id: flowId,
    status: "error",
    server_id: server.id,
    error: "access_denied",
  });
});

test("provider text on the page: format characters stripped, length capped, labelled as the provider's words", async () => {
  const ticket = await as("bidi");
  const { providerUrl } = await startedFlow(w, ticket, AGENT, server.id);
  const state = new URL(providerUrl).searchParams.get("state");
  const description = `Pay \u202Egnp.exe\u202C now\u200B\u2066x\u2069\uFEFF ${"z".repeat(500)}`;
  const r = await callback(w, { error: "access_denied", error_description: description, state, iss: s.issuer, s: server.id });
  assert.equal(r.status, 400);
  for (const ch of ["\u202E", "\u202C", "\u200B", "\u2066", "\u2069", "\uFEFF"]) {
    assert.ok(!r.text.includes(ch), `U+${ch.codePointAt(0).toString(16)} removed`);
  }
  assert.match(r.text, /The provider&#39;s own words \(not checked by this service\): \u201cPay gnp\.exe now/);
  const quoted = /\u201c([^\u201d]*)\u201d/.exec(r.text)[1];
  assert.ok([...quoted].length <= 201, `capped: ${[...quoted].length}`);
  assert.ok(quoted.endsWith("\u2026"));
});

test("a failure after the code exchange (the connection cannot be stored) is the HTML page, never a JSON 500", async () => {
  const ticket = await as("unlucky");
  const params = await consentParams(w, ticket, AGENT, server.id);
  await w.db.prepare("ALTER TABLE connections RENAME TO connections_away").run();
  let r;
  try {
    r = await callback(w, params);
  } finally {
    await w.db.prepare("ALTER TABLE connections_away RENAME TO connections").run();
  }
  assert.equal(r.status, 400, r.text);
  assert.match(r.headers.get("content-type"), /^text\/html/);
  assert.equal(pageCode(r), "storage_error");
  assert.match(r.text, /Access was granted, but the connection could not be saved/);
  // The opener is told too (the page's message for window.opener).
  const island = /<script type="application\/json" id="mcp-authlink-consent">([^<]*)<\/script>/.exec(r.text);
  assert.deepEqual(JSON.parse(island[1]).message, {
    type: "mcp-authlink:consent",
    flow_id: params.flowId,
    status: "error",
    server_id: server.id,
    error: "storage_error",
  });
  assert.equal(tokenRequests(), 1, "the code was exchanged");
  assert.equal(await connectionsOf("unlucky"), 0);
  const f = (await flowStatus(w, ticket, params.flowId)).json;
  assert.equal(f.error.code, "storage_error");
});

test("connect is rate limited per actor: 429 rate_limited past 20 a minute, others unaffected", async () => {
  await roomInMinute(20);
  const ticket = await as("hasty");
  const path = `/service/mcp/agents/${AGENT}/servers/${server.id}/connect`;
  for (let i = 0; i < 20; i += 1) {
    const r = await w.call(path, { method: "POST", token: ticket });
    assert.equal(r.status, 200, `call ${i + 1}: ${r.text}`);
  }
  const limited = await w.call(path, { method: "POST", token: ticket });
  assert.equal(limited.status, 429, limited.text);
  assert.equal(code(limited), "rate_limited");
  assert.match(limited.json.errors[0].message, /at most 20 a minute\. Retry in \d+ s\./);
  assert.ok(limited.json.retry_after_seconds >= 1 && limited.json.retry_after_seconds <= 60, limited.text);
  assert.equal((await w.call(path, { method: "POST", token: await as("patient") })).status, 200);
});

test("POST /service/mcp/discover: the same DiscoveryResult as the control plane, ticket required, rate limited", async () => {
  await roomInMinute(20);
  const ticket = await as("explorer");
  const edge = await w.call("/service/mcp/discover", { method: "POST", token: ticket, body: { endpoint: s.endpoint } });
  assert.equal(edge.status, 200, edge.text);
  const admin = await w.admin("/ai/mcp-servers/discover", { method: "POST", body: { endpoint: s.endpoint } });
  // The trace's timings and which speculative requests were answered in time vary by run;
  // the requests the result was built from do not.
  const strip = ({ trace, ...rest }) => ({ ...rest, used: trace.filter((t) => t.outcome === "used").map(({ ms: _, ...t }) => t) });
  assert.deepEqual(strip(edge.json), strip(admin.json));
  assert.equal(edge.json.requires_auth, true);

  const anonymous = await w.call("/service/mcp/discover", { method: "POST", body: { endpoint: s.endpoint } });
  assert.equal(anonymous.status, 401);
  assert.equal(code(anonymous), "invalid_ticket");
  const missing = await w.call("/service/mcp/discover", { method: "POST", token: ticket, body: {} });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.errors[0].path, "endpoint");
  const insecure = await w.call("/service/mcp/discover", { method: "POST", token: ticket, body: { endpoint: "http://mcp.example.com/mcp" } });
  assert.equal(code(insecure), "invalid_endpoint");
  // 3 calls so far in this minute; 7 more reach the limit of 10.
  for (let i = 0; i < 7; i += 1) {
    const r = await w.call("/service/mcp/discover", { method: "POST", token: ticket, body: {} });
    assert.equal(r.status, 400, r.text);
  }
  const limited = await w.call("/service/mcp/discover", { method: "POST", token: ticket, body: { endpoint: s.endpoint } });
  assert.equal(limited.status, 429, limited.text);
  assert.equal(code(limited), "rate_limited");
  assert.match(limited.json.errors[0].message, /at most 10 a minute/);
});

test("CORS: the browser-called runtime routes answer preflights and allow exactly the allowed origins", async () => {
  const paths = [
    `/service/mcp/agents/${AGENT}/servers`,
    `/service/mcp/agents/${AGENT}/servers/${server.id}/connect`,
    "/service/mcp/consent/flows/some-flow",
    "/service/mcp/discover",
  ];
  for (const path of paths) {
    const pre = await w.call(path, {
      method: "OPTIONS",
      headers: { origin: APP_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    assert.equal(pre.status, 204, `${path}: ${pre.text}`);
    assert.equal(pre.headers.get("access-control-allow-origin"), APP_ORIGIN, path);
    assert.match(pre.headers.get("access-control-allow-headers"), /authorization/);
    const foreign = await w.call(path, { method: "OPTIONS", headers: { origin: "https://evil.example" } });
    assert.equal(foreign.headers.get("access-control-allow-origin"), null, path);
  }
  const ticket = await as("cors");
  const flow = await w.call("/service/mcp/consent/flows/x", { token: ticket, headers: { origin: APP_ORIGIN } });
  assert.equal(flow.headers.get("access-control-allow-origin"), APP_ORIGIN);
  // The start route and the callback are navigations, not fetches: no CORS.
  const c = await connect(w, ticket, AGENT, server.id);
  const st = await startConsent(w, c, { browser: newBrowser() });
  assert.equal(st.headers.get("access-control-allow-origin"), null);
});

// Last: it reconfigures this Worker. An operator turning ALLOW_PRIVATE_TARGETS off (and
// serving over https) while a consent is under way: the stored token URL is now a refused
// target, and the callback says so on its page (never a JSON error).
test("a token URL the deployment now refuses: the callback page says blocked_target, nothing stored", async () => {
  const ticket = await as("blocked");
  const params = await consentParams(w, ticket, AGENT, server.id);
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
  w.db = await w.mf.getD1Database("DB"); // the same (in-memory) database, a new stub
  assert.equal(await count(w, "pending_consents", "actor_id = ?", "blocked"), 1, "D1 kept its rows");
  // Over https the cookie is __Host- prefixed: this browser's binding, under that name.
  const browser = newBrowser();
  const value = [...w.browser.cookies].find(([k]) => k.endsWith(params.flowId))[1];
  browser.cookies.set(`__Host-mcp-authlink-consent-${params.flowId}`, value);
  const r = await callback(w, params, { browser });
  assert.equal(r.status, 400, r.text);
  assert.match(r.headers.get("content-type"), /^text\/html/);
  assert.equal(pageCode(r), "blocked_target");
  assert.match(r.text, /token endpoint is an address this deployment refuses to call/);
  assert.match(r.headers.getSetCookie()[0], new RegExp(`^__Host-mcp-authlink-consent-${params.flowId}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`));
  assert.equal(tokenRequests(), 0, "nothing was sent to the refused target");
  assert.equal(await connectionsOf("blocked"), 0);
  assert.equal((await flowStatus(w, ticket, params.flowId)).json.error.code, "blocked_target");

  // Over https the start route sets the __Host- cookie: Secure, Path=/.
  const c = await connect(w, ticket, AGENT, server.id);
  assert.equal(c.consent.url, "https://authlink.example/service/mcp/consent/start");
  const st = await startConsent(w, c, { browser: newBrowser() });
  assert.equal(st.status, 303, st.text);
  assert.match(st.setCookies[0], new RegExp(`^__Host-mcp-authlink-consent-${c.flow_id}=[A-Za-z0-9_-]{40,}; Max-Age=900; Path=/; Secure; HttpOnly; SameSite=Lax$`));
});
