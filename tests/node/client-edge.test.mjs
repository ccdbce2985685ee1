// discover() with the runtime client as its edge (browser.md §4), and issue 9.12: what the fetch
// adapter sends (no credentials, no referrer, no cache) and Node's default refusal of private
// and loopback targets (blockPrivate).
import assert from "node:assert/strict";
import { test } from "node:test";
import { discover } from "mcp-authlink";
import { McpAuthlinkClient } from "mcp-authlink/client";

const ENDPOINT = "https://mcp.example.com/mcp";
const EDGE_RESULT = { requires_auth: true, recommended_auth_mode: "oauth_authorization_code_public_pkce", message: "from the edge", trace: [] };

/** A fetch where every request of `blocked` (a predicate) fails as a CORS refusal does. */
function corsFetch(blocked, calls = []) {
  return async (url, init) => {
    calls.push({ url, init });
    if (blocked(url)) throw new TypeError("Failed to fetch");
    return new Response(null, { status: 200, headers: { "content-type": "application/json" } });
  };
}

function edgeClient(calls) {
  return new McpAuthlinkClient({
    baseUrl: "https://authlink.example.com",
    getTicket: () => "t",
    fetch: async (url, init) => {
      calls.push({ url, body: JSON.parse(init.body) });
      return new Response(JSON.stringify(EDGE_RESULT), { status: 200 });
    },
  });
}

test("the fetch adapter sends no credentials, no referrer and bypasses the cache", async () => {
  const calls = [];
  const result = await discover(ENDPOINT, { fetch: corsFetch(() => false, calls) });
  assert.equal(result.requires_auth, false);
  assert.equal(result.via, "browser");
  assert.ok(calls.length >= 1);
  for (const { init } of calls) {
    assert.equal(init.credentials, "omit");
    assert.equal(init.referrerPolicy, "no-referrer");
    assert.equal(init.cache, "no-store");
    assert.equal(init.redirect, "manual");
  }
});

test("Node's own fetch accepts those options (a real request to a local server)", async () => {
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const result = await discover(`http://127.0.0.1:${server.address().port}/mcp`, { blockPrivate: false });
    assert.equal(result.requires_auth, false);
    assert.deepEqual(result.warnings.filter((w) => w.code === "network_error"), []);
  } finally {
    server.close();
  }
});

test("an answer the browser cannot read makes the whole discovery run at the Worker: via edge", async () => {
  const edgeCalls = [];
  const result = await discover(ENDPOINT, { fetch: corsFetch(() => true), edge: edgeClient(edgeCalls) });
  assert.equal(result.via, "edge");
  assert.equal(result.message, "from the edge");
  assert.deepEqual(edgeCalls, [{ url: "https://authlink.example.com/service/mcp/discover", body: { endpoint: ENDPOINT } }]);
});

test("a discovery the browser completed does not touch the edge", async () => {
  const edgeCalls = [];
  const result = await discover(ENDPOINT, { fetch: corsFetch(() => false), edge: edgeClient(edgeCalls) });
  assert.equal(result.via, "browser");
  assert.deepEqual(edgeCalls, []);
});

test("an edge that fails too: its error is the answer when the browser had none, else the browser's result stands", async () => {
  const failing = new McpAuthlinkClient({
    baseUrl: "https://authlink.example.com",
    getTicket: () => "t",
    fetch: async () => new Response(JSON.stringify({ errors: [{ code: "rate_limited", message: "Too many discover calls" }] }), { status: 429 }),
  });
  await assert.rejects(discover(ENDPOINT, { fetch: corsFetch(() => true), edge: failing }), { code: "rate_limited" });
  // The probe was read (401 with a challenge); only the metadata was hidden.
  const partial = async (url, init) => {
    if (url === ENDPOINT) return new Response(null, { status: 401, headers: { "www-authenticate": 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"' } });
    return corsFetch(() => true)(url, init);
  };
  const result = await discover(ENDPOINT, { fetch: partial, edge: failing });
  assert.equal(result.via, "browser");
  assert.equal(result.requires_auth, true);
});

test("options.edge must be a runtime client", async () => {
  await assert.rejects(discover(ENDPOINT, { edge: {} }), { code: "invalid_argument", message: /options\.edge/ });
});

test("Node refuses private and loopback targets by default (blockPrivate), naming the option", async () => {
  const fetch = corsFetch(() => false);
  for (const url of ["http://127.0.0.1:9/mcp", "https://10.1.2.3/mcp", "https://169.254.169.254/latest", "https://[::1]/mcp", "https://localhost/mcp"]) {
    await assert.rejects(discover(url, { fetch: () => assert.fail(`nothing may be fetched for ${url}`) }), (e) => {
      assert.equal(e.code, "blocked_target", url);
      assert.match(e.message, /private, loopback, link-local or metadata address/);
      assert.match(e.message, /blockPrivate: false/);
      return true;
    });
  }
  assert.equal((await discover("http://127.0.0.1:9/mcp", { fetch, blockPrivate: false })).requires_auth, false);
  // allowHttp is a development setting: it turns Node's default off too.
  assert.equal((await discover("http://127.0.0.1:9/mcp", { fetch, allowHttp: true })).requires_auth, false);
  assert.equal((await discover(ENDPOINT, { fetch })).requires_auth, false);
  await assert.rejects(discover("https://192.168.1.1/mcp", { fetch, allowHttp: true, blockPrivate: true }), { code: "blocked_target" });
});
