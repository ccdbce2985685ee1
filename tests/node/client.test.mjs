// mcp-authlink/client in Node, at the HTTP level: what it sends (ticket, credentials, paths),
// how it renews a refused ticket, which code each Worker answer becomes, and the per-agent store
// the React hook reads. The popup and redirect flows need a browser: tests/browser/.
import assert from "node:assert/strict";
import { test } from "node:test";
import { McpAuthlinkClient, McpAuthlinkError } from "mcp-authlink/client";

const BASE = "https://authlink.example.com";
const SERVERS = [
  { id: "srv_a", name: "crm", endpoint: "https://crm.example/mcp", auth_type: "oauth_authorization_code_public_pkce", requires_user_connection: true, connection_status: "not_connected", connected_at: null, expires_at: null },
  { id: "srv_b", name: "wiki", endpoint: "https://wiki.example/mcp", auth_type: null, requires_user_connection: false, connection_status: "ready", connected_at: null, expires_at: null },
];

/** A fetch that answers from `routes` ("METHOD /path" -> (req) => [status, body]) and records every call. */
function scripted(routes) {
  const calls = [];
  const fetch = async (url, init) => {
    const u = new URL(url);
    const call = { method: init.method, path: u.pathname, auth: init.headers.authorization, init, body: init.body ? JSON.parse(init.body) : undefined };
    calls.push(call);
    const route = routes[`${init.method} ${u.pathname}`];
    if (!route) return new Response(JSON.stringify({ errors: [{ code: "not_found", message: "no route" }] }), { status: 404 });
    const [status, body] = await route(call);
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  };
  return { fetch, calls };
}

function tickets(...list) {
  let i = 0;
  const fn = async () => list[Math.min(i++, list.length - 1)];
  fn.count = () => i;
  return fn;
}

test("listServers sends the ticket as a bearer, no cookies, no cache, and returns the items", async () => {
  const { fetch, calls } = scripted({ "GET /service/mcp/agents/agent%201/servers": () => [200, { items: SERVERS }] });
  const client = new McpAuthlinkClient({ baseUrl: `${BASE}/`, getTicket: tickets("t1"), fetch });
  const servers = await client.listServers("agent 1");
  assert.deepEqual(servers.map((s) => [s.id, s.connection_status, s.error]), [["srv_a", "not_connected", null], ["srv_b", "ready", null]]);
  assert.equal(calls[0].auth, "Bearer t1");
  assert.equal(calls[0].init.credentials, "omit");
  assert.equal(calls[0].init.cache, "no-store");
});

test("a 401 invalid_ticket gets one retry with a fresh ticket from getTicket; the new one is kept", async () => {
  const { fetch, calls } = scripted({
    "GET /service/mcp/agents/a/servers": ({ auth }) =>
      auth === "Bearer fresh" ? [200, { items: SERVERS }] : [401, { errors: [{ code: "invalid_ticket", message: "expired" }] }],
  });
  const getTicket = tickets("old", "fresh");
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket, fetch });
  await client.listServers("a");
  await client.listServers("a");
  assert.deepEqual(calls.map((c) => c.auth), ["Bearer old", "Bearer fresh", "Bearer fresh"]);
  assert.equal(getTicket.count(), 2);
});

test("getTicket may answer the session-tickets body ({ticket, expires_at})", async () => {
  const { fetch, calls } = scripted({ "GET /service/mcp/agents/a/servers": () => [200, { items: [] }] });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: async () => ({ ticket: "tk", expires_at: "2030-01-01T00:00:00Z" }), fetch });
  await client.listServers("a");
  assert.equal(calls[0].auth, "Bearer tk");
});

test("a ticket refused twice rejects with invalid_ticket and the Worker's message", async () => {
  const { fetch, calls } = scripted({
    "GET /service/mcp/agents/a/servers": () => [401, { errors: [{ code: "invalid_ticket", message: "Send Authorization: Bearer <session ticket>" }] }],
  });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("x", "y"), fetch });
  await assert.rejects(client.listServers("a"), (e) => {
    assert.ok(e instanceof McpAuthlinkError);
    assert.equal(e.code, "invalid_ticket");
    assert.equal(e.status, 401);
    assert.match(e.message, /session ticket/);
    return true;
  });
  assert.equal(calls.length, 2);
});

test("getTicket failing is invalid_ticket naming getTicket; nothing is sent", async () => {
  const { fetch, calls } = scripted({});
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: async () => { throw new Error("backend down"); }, fetch });
  await assert.rejects(client.listServers("a"), { code: "invalid_ticket", message: "getTicket() failed: backend down" });
  assert.equal(calls.length, 0);
});

test("Worker answers become stable codes: agent_not_in_scope, not_attached, network, aborted", async () => {
  const { fetch } = scripted({
    "GET /service/mcp/agents/other/servers": () => [403, { errors: [{ code: "agent_not_in_scope", message: "The session ticket does not cover this agent." }] }],
    "POST /service/mcp/agents/a/servers/nope/disconnect": () => [404, { errors: [{ code: "not_found", message: "This server is not attached to the agent." }] }],
  });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("t"), fetch });
  await assert.rejects(client.listServers("other"), { code: "agent_not_in_scope", message: "The session ticket does not cover this agent." });
  await assert.rejects(client.disconnect("a", "nope"), { code: "not_attached", message: "This server is not attached to the agent." });

  const down = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("t"), fetch: async () => { throw new TypeError("fetch failed"); } });
  await assert.rejects(down.listServers("a"), { code: "network", message: `Could not reach the mcp-authlink Worker at ${BASE}: fetch failed` });

  const slow = new McpAuthlinkClient({
    baseUrl: BASE,
    getTicket: tickets("t"),
    fetch: (_u, init) => new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))),
  });
  const controller = new AbortController();
  const pending = slow.listServers("a", { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, { code: "aborted" });
});

test("subscribe loads once, calls listeners with the servers, snapshot is stable until a change", async () => {
  const { fetch, calls } = scripted({ "GET /service/mcp/agents/a/servers": () => [200, { items: SERVERS }] });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("t"), fetch });
  const before = client.snapshot("a");
  assert.equal(before.loading, true);
  assert.equal(client.snapshot("a"), before);
  const seen = [];
  const off = client.subscribe("a", (servers) => seen.push(servers.map((s) => s.id)));
  const off2 = client.subscribe("a", () => {});
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(calls.length, 1, "two subscribers, one load");
  assert.deepEqual(seen, [["srv_a", "srv_b"]]);
  const after = client.snapshot("a");
  assert.equal(after.loading, false);
  assert.equal(client.snapshot("a"), after);
  off();
  off2();
  await client.refresh("a");
  assert.equal(seen.length, 1, "an unsubscribed listener is not called");
});

test("a failed list is the store's error, with the code and the Worker's message", async () => {
  const { fetch } = scripted({ "GET /service/mcp/agents/a/servers": () => [500, { errors: [{ code: "internal", message: "D1 failed" }] }] });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("t"), fetch });
  client.subscribe("a", () => {});
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(client.snapshot("a").error, { code: "internal", message: "D1 failed" });
  assert.equal(client.snapshot("a").loading, false);
});

test("connect to a server that needs no consent resolves ready without a window", async () => {
  const { fetch, calls } = scripted({
    "POST /service/mcp/agents/a/servers/srv_b/connect": () => [200, { requires_oauth: false }],
    "GET /service/mcp/agents/a/servers": () => [200, { items: SERVERS }],
  });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("t"), fetch });
  // Redirect mode opens no window, so this runs in Node; popup mode needs a browser.
  await assert.rejects(client.connect("a", "srv_b"), { code: "invalid_argument", message: /runs in a browser page/ });
  globalThis.window = { location: { href: "https://app.example/agents#x" } };
  globalThis.document = {};
  try {
    assert.deepEqual(await client.connect("a", "srv_b", { mode: "redirect" }), { status: "ready", server_id: "srv_b" });
  } finally {
    delete globalThis.window;
    delete globalThis.document;
  }
  assert.deepEqual(calls[0].body, { return_to: "https://app.example/agents" });
});

test("a refused connect is recorded on the server as its error, and the next try clears it", async () => {
  let answer = [400, { errors: [{ code: "return_to_not_allowed", message: "return_to must be on one of ALLOWED_RETURN_ORIGINS." }] }];
  const { fetch } = scripted({
    "POST /service/mcp/agents/a/servers/srv_a/connect": () => answer,
    "GET /service/mcp/agents/a/servers": () => [200, { items: SERVERS }],
  });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("t"), fetch });
  await client.listServers("a");
  const statuses = [];
  client.subscribe("a", (servers) => statuses.push(servers[0].connection_status));
  globalThis.window = { location: { href: "https://evil.example/" } };
  globalThis.document = {};
  try {
    await assert.rejects(client.connect("a", "srv_a", { mode: "redirect" }), { code: "return_to_not_allowed", serverId: "srv_a" });
    assert.deepEqual(client.snapshot("a").servers[0].error, { code: "return_to_not_allowed", message: "return_to must be on one of ALLOWED_RETURN_ORIGINS." });
    assert.deepEqual(statuses, ["connecting", "not_connected"]);
    answer = [200, { requires_oauth: false }];
    await client.connect("a", "srv_a", { mode: "redirect" });
    assert.equal(client.snapshot("a").servers[0].error, null);
  } finally {
    delete globalThis.window;
    delete globalThis.document;
  }
});

test("discoverAtEdge posts the endpoint to /service/mcp/discover", async () => {
  const { fetch, calls } = scripted({ "POST /service/mcp/discover": ({ body }) => [200, { requires_auth: false, resource: body.endpoint, trace: [] }] });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("t"), fetch });
  const r = await client.discoverAtEdge("https://mcp.example/mcp");
  assert.equal(r.resource, "https://mcp.example/mcp");
  assert.deepEqual(calls[0].body, { endpoint: "https://mcp.example/mcp" });
});

test("the constructor names what is missing", () => {
  assert.throws(() => new McpAuthlinkClient({ getTicket: () => "t" }), { code: "invalid_argument", message: /baseUrl/ });
  assert.throws(() => new McpAuthlinkClient({ baseUrl: BASE }), { code: "invalid_argument", message: /getTicket/ });
});

/** A window whose address is `href`; replaceState records the new address. */
function fakeWindow(href) {
  const w = { location: { href, hash: new URL(href).hash }, history: { state: null, replaceState: (_s, _t, url) => { w.location.href = url; w.location.hash = new URL(url).hash; } } };
  return w;
}

test("completeRedirect reads #mcp-authlink=<outcome>, removes it from the address, and asks the Worker", async () => {
  const { fetch, calls } = scripted({
    "GET /service/mcp/consent/flows/f1": () => [200, { flow_id: "f1", server_id: "srv_a", status: "connected" }],
    "GET /service/mcp/consent/flows/f2": () => [200, { flow_id: "f2", server_id: "srv_a", status: "error", error: { code: "access_denied", message: "Access was not granted (access_denied), so nothing was connected." } }],
  });
  const client = new McpAuthlinkClient({ baseUrl: BASE, getTicket: tickets("t"), fetch });
  const fragment = (o) => `#${new URLSearchParams({ "mcp-authlink": JSON.stringify(o) })}`;
  globalThis.window = fakeWindow(`https://app.example/agents?x=1${fragment({ flow_id: "f1", status: "connected", server_id: "srv_a" })}`);
  try {
    assert.deepEqual(await client.completeRedirect(), { status: "connected", server_id: "srv_a", flow_id: "f1" });
    assert.equal(window.location.href, "https://app.example/agents?x=1");
    assert.equal(await client.completeRedirect(), null, "nothing left to read");

    // The fragment says connected, the Worker says denied: the Worker wins.
    globalThis.window = fakeWindow(`https://app.example/a${fragment({ flow_id: "f2", status: "connected", server_id: "srv_a" })}&tab=2`);
    await assert.rejects(client.completeRedirect(), { code: "consent_denied", message: "Access was not granted (access_denied), so nothing was connected." });
    assert.equal(window.location.href, "https://app.example/a#tab=2");

    // A flow the Worker does not know connected nothing, whatever the fragment says.
    globalThis.window = fakeWindow(`https://app.example/a${fragment({ flow_id: "forged", status: "connected", server_id: "srv_a" })}`);
    await assert.rejects(client.completeRedirect(), { code: "consent_expired" });
  } finally {
    delete globalThis.window;
  }
  assert.deepEqual(calls.map((c) => c.path), ["/service/mcp/consent/flows/f1", "/service/mcp/consent/flows/f2", "/service/mcp/consent/flows/forged"]);
});
