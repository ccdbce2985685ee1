// Shared steps of the Worker's negative suites (tests/worker/negative-*.test.mjs): the real
// peers, optionally behind the fault proxy (faults.mjs), a Worker, and the API calls the
// lifecycle suite makes, as small functions that assert only that the step itself succeeded.
import assert from "node:assert/strict";
import { authorizeByHttp, startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { startFaultProxy } from "./faults.mjs";
import { ORIGIN, startWorker } from "./harness.mjs";

export const CALLBACK = "/service/mcp/consent/callback";
export const APP_ORIGIN = "http://127.0.0.1:3000"; // the harness's ALLOWED_RETURN_ORIGINS
export const CONFIDENTIAL = "oauth_authorization_code_confidential_pkce";
export const PUBLIC = "oauth_authorization_code_public_pkce";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The authorization server, the MCP server, (with `proxy`) the fault proxy in front of both,
 * and a Worker. `endpoint` and `issuer` are what servers are registered with: the proxy's
 * when there is one.
 */
export async function startStack({ proxy = false, accessTokenTtl = 300, bindings = {} } = {}) {
  const s = {};
  s.as = await startAuthServer({ accessTokenTtl });
  s.mcp = await startMcpServer({ issuer: s.as.issuer });
  if (proxy) s.proxy = await startFaultProxy({ authServer: s.as.issuer, mcpEndpoint: s.mcp.endpoint });
  s.w = await startWorker({ bindings });
  s.endpoint = s.proxy?.endpoint ?? s.mcp.endpoint;
  s.issuer = s.proxy?.issuer ?? s.as.issuer;
  s.close = async () => {
    await s.w?.close();
    await s.proxy?.close();
    await s.mcp?.close();
    await s.as?.close();
  };
  return s;
}

/** The first error's code of an API error body. */
export const code = (r) => r.json?.errors?.[0]?.code;

/** The `error code` a callback page shows. */
export function pageCode(r) {
  return /Error code: <code>([^<]*)<\/code>/.exec(r.text)?.[1];
}

export async function ticketFor(w, actor, agents, ttl) {
  const body = { actor_id: actor, agent_ids: agents };
  if (ttl !== undefined) body.ttl_seconds = ttl;
  const r = await w.admin("/ai/session-tickets", { method: "POST", body });
  assert.equal(r.status, 201, r.text);
  return r.json.ticket;
}

/** Creates a server (201 asserted) and attaches it to `agents`; returns the server object. */
export async function createServer(w, name, config, agents = []) {
  const r = await w.admin("/ai/mcp-servers", { method: "POST", body: { name, config } });
  assert.equal(r.status, 201, r.text);
  for (const agent of agents) await attach(w, agent, r.json.server.id);
  return r.json.server;
}

export async function attach(w, agent, id) {
  const r = await w.admin(`/ai/agents/${agent}/mcp-servers/${id}/attach`, { method: "POST" });
  assert.equal(r.status, 204, r.text);
}

/** Registers a client at the provider itself (so the test knows its secret). */
export async function registerClient(issuer, metadata) {
  const r = await fetch(`${issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(metadata),
  });
  const json = await r.json();
  assert.equal(r.status, 201, JSON.stringify(json));
  return json;
}

/** connect (200 asserted); returns its answer: {requires_oauth, flow_id?, consent?}. */
export async function connect(w, ticket, agent, id, body = {}) {
  const r = await w.call(`/service/mcp/agents/${agent}/servers/${id}/connect`, { method: "POST", token: ticket, body });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/**
 * A browser's cookie jar for the Worker's origin (what the binding cookie lives in). Every
 * Worker gets a default one (`browserOf(w)`); tests of the binding make others.
 */
export function newBrowser() {
  return { cookies: new Map() };
}

export function browserOf(w) {
  w.browser ??= newBrowser();
  return w.browser;
}

/** The Cookie header a browser sends to the Worker (undefined when it has none). */
export function cookieHeader(browser) {
  const pairs = [...browser.cookies].map(([k, v]) => `${k}=${v}`);
  return pairs.length ? pairs.join("; ") : undefined;
}

/** Applies a response's Set-Cookie headers to a browser. */
export function keepCookies(browser, headers) {
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(";");
    const i = pair.indexOf("=");
    const name = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    if (!value || /;\s*max-age=0\b/i.test(line)) browser.cookies.delete(name);
    else browser.cookies.set(name, value);
  }
}

/**
 * Submits connect's consent form as the browser would (form-encoded `fields` POSTed to
 * `consent.url`, from a page of `origin`; `origin: null` sends no Origin header). Keeps the
 * cookies it sets in `browser`. Returns {status, headers, text, location, setCookies}.
 */
export async function startConsent(w, c, { origin = APP_ORIGIN, browser = browserOf(w), fields = c.consent.fields } = {}) {
  assert.equal(c.consent.method, "POST");
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  if (origin) headers.origin = origin;
  const cookie = cookieHeader(browser);
  if (cookie) headers.cookie = cookie;
  const res = await w.mf.dispatchFetch(c.consent.url, {
    method: "POST",
    headers,
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
  const setCookies = res.headers.getSetCookie();
  keepCookies(browser, res.headers);
  return { status: res.status, headers: res.headers, text: await res.text(), location: res.headers.get("location"), setCookies };
}

/** connect, then the start form (303 asserted): the provider's authorization URL and the flow. */
export async function startedFlow(w, ticket, agent, id, body = {}, { browser } = {}) {
  const c = await connect(w, ticket, agent, id, body);
  assert.equal(c.requires_oauth, true);
  const st = await startConsent(w, c, { browser });
  assert.equal(st.status, 303, st.text);
  return { flowId: c.flow_id, providerUrl: st.location, connect: c };
}

/**
 * connect, the start form in `browser` (default: the Worker's default browser), then the
 * consent at the provider as `login`, without calling the callback: returns the callback's
 * query parameters (code, state, iss) as a URLSearchParams, with the flow's id as `flowId`.
 */
export async function consentParams(w, ticket, agent, id, body = {}, { browser, login } = {}) {
  const { flowId, providerUrl } = await startedFlow(w, ticket, agent, id, body, { browser });
  const redirect = new URL(await authorizeByHttp(providerUrl, login ? { login } : {}));
  assert.equal(`${redirect.origin}${redirect.pathname}`, `${ORIGIN}${CALLBACK}`);
  const params = redirect.searchParams;
  params.flowId = flowId;
  return params;
}

/** The state of a fresh, started connect (no consent given). */
export async function stateOf(w, ticket, agent, id, body = {}, { browser } = {}) {
  const { providerUrl } = await startedFlow(w, ticket, agent, id, body, { browser });
  return new URL(providerUrl).searchParams.get("state");
}

/**
 * GET the callback with these parameters (an object or URLSearchParams), from `browser`
 * (default: the Worker's default browser, which holds the binding cookies of the flows the
 * helpers started). The response's Set-Cookie headers are applied to that browser.
 */
export async function callback(w, params, { browser = browserOf(w) } = {}) {
  const cookie = cookieHeader(browser);
  const r = await w.call(`${CALLBACK}?${new URLSearchParams(params)}`, { headers: cookie ? { cookie } : {} });
  keepCookies(browser, r.headers);
  return r;
}

/** GET the flow-status route with `ticket`. */
export function flowStatus(w, ticket, flowId) {
  return w.call(`/service/mcp/consent/flows/${encodeURIComponent(flowId)}`, { token: ticket });
}

/** The runtime list's entry for a server, seen through `ticket`. */
export async function entry(w, ticket, agent, id) {
  const r = await w.call(`/service/mcp/agents/${agent}/servers`, { token: ticket });
  assert.equal(r.status, 200, r.text);
  return r.json.items.find((i) => i.id === id);
}

export async function status(w, ticket, agent, id) {
  return (await entry(w, ticket, agent, id))?.connection_status;
}

export function accessToken(w, agent, id, actor) {
  return w.admin(`/ai/agents/${agent}/mcp-servers/${id}/access-token`, { method: "POST", body: { actor_id: actor } });
}

/** COUNT(*) of a table, optionally `WHERE <where>` with `args`. */
export async function count(w, table, where, ...args) {
  const sql = `SELECT COUNT(*) AS n FROM ${table}${where ? ` WHERE ${where}` : ""}`;
  const row = await w.db.prepare(sql).bind(...args).first();
  return row.n;
}

/** Every row of the tables that hold state, to compare before and after a refused call. */
export async function snapshot(w) {
  const out = {};
  for (const t of ["servers", "agent_servers", "pending_consents", "consent_flows", "connections", "client_tokens"]) {
    out[t] = (await w.db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()).results;
  }
  return out;
}
