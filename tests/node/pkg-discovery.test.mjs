// The built npm package in Node: every discovery fixture through discover(endpoint, {fetch}),
// and the adapter's behaviour (errors, abort, timeouts, body caps, redirects, onStep).
import assert from "node:assert/strict";
import { test } from "node:test";
import { discover, McpAuthlinkError, parseWwwAuthenticate, recommendAuthMode } from "mcp-authlink";
import { discoveryFixtures } from "./fixtures.mjs";
import { checkExpectations, replayFetch } from "./replay.mjs";

const fixtures = discoveryFixtures();

test("the shared fixtures are all here", () => {
  assert.ok(fixtures.filter((f) => f.file.includes("/shared/")).length >= 14, "../shared/fixtures/discovery not found");
});

for (const fixture of fixtures) {
  test(`fixture ${fixture.name}`, async () => {
    const { fetch, calls } = replayFetch(fixture);
    const steps = [];
    const run = discover(fixture.endpoint, {
      fetch,
      onStep: (e) => steps.push(e),
      timeoutMs: 1000,
      allowIssuerMismatch: fixture.allow_issuer_mismatch === true,
      // Replayed answers reach no network; some fixtures (the 2025-03-26 legacy ones) name
      // loopback servers, which Node's default blockPrivate would refuse before any request.
      blockPrivate: false,
    });
    if (fixture.expect_error) {
      await assert.rejects(run, (e) => e instanceof Error && e instanceof McpAuthlinkError && e.code === fixture.expect_error);
      return;
    }
    const result = await run;
    assert.deepEqual(checkExpectations(fixture, result), []);
    // The trace is the requests sent, in order; onStep saw each answer.
    assert.deepEqual(result.trace.map((t) => [t.method, t.url]), calls);
    assert.ok(steps.length >= 1 && steps.length <= calls.length);
    // On an unedited result, recommendAuthMode agrees with discover.
    const rec = recommendAuthMode(result);
    assert.equal(rec.mode, result.recommended_auth_mode);
    assert.equal(rec.message, result.message);
    assert.equal(typeof result.message, "string");
    assert.ok(result.message.length > 10);
  });
}

const linear = fixtures.find((f) => f.name === "linear-prm-via-challenge");

test("bad endpoints reject with invalid_endpoint", async () => {
  for (const endpoint of ["", "mcp.example.com/mcp", "ftp://mcp.example.com/", "http://mcp.example.com/mcp"]) {
    await assert.rejects(discover(endpoint, { fetch: () => assert.fail("nothing may be fetched") }), {
      name: "McpAuthlinkError",
      code: "invalid_endpoint",
    });
  }
});

test("http is allowed for loopback, and anywhere with allowHttp", async () => {
  const fetch = async () => new Response("{}", { status: 200 });
  // (Node refuses loopback targets unless told otherwise: tests/node/client-edge.test.mjs.)
  assert.equal((await discover("http://127.0.0.1:9/mcp", { fetch, blockPrivate: false })).requires_auth, false);
  assert.equal((await discover("http://mcp.example.com/mcp", { fetch, allowHttp: true })).requires_auth, false);
});

test("an aborted signal rejects with aborted", async () => {
  const controller = new AbortController();
  const { fetch } = replayFetch(linear, { latencyMs: 200 });
  const run = discover(linear.endpoint, { fetch, signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(run, { code: "aborted" });
  await assert.rejects(discover(linear.endpoint, { fetch, signal: AbortSignal.abort() }), { code: "aborted" });
});

test("a probe that never answers times out as unreachable", async () => {
  const fixture = { routes: [{ url: "https://slow.example/mcp", error: "timeout" }] };
  const { fetch } = replayFetch(fixture);
  await assert.rejects(discover("https://slow.example/mcp", { fetch, timeoutMs: 50 }), (e) => {
    assert.equal(e.code, "unreachable");
    assert.match(e.message, /50 ms/);
    return true;
  });
});

test("a metadata candidate that times out is reported and skipped", async () => {
  const fixture = structuredClone(linear);
  fixture.routes.splice(1, 0, { url: "https://mcp.linear.app/.well-known/oauth-protected-resource/mcp", error: "timeout" });
  const { fetch } = replayFetch(fixture);
  const result = await discover(linear.endpoint, { fetch, timeoutMs: 100 });
  const timedOut = result.trace.find((t) => t.url.endsWith("/oauth-protected-resource/mcp"));
  assert.equal(timedOut.outcome, "timeout");
  assert.equal(timedOut.status, null);
  const w = result.warnings.find((w) => w.code === "network_error");
  assert.match(w.message, /timeout/);
  assert.equal(w.url, "https://mcp.linear.app/.well-known/oauth-protected-resource/mcp");
});

test("bodies over 256 KiB are cut off by the adapter, not buffered", async () => {
  let pulled = 0;
  const huge = new ReadableStream({
    pull(controller) {
      pulled += 65536;
      controller.enqueue(new Uint8Array(65536).fill(32));
      if (pulled > 64 * 1024 * 1024) controller.close();
    },
  });
  const fetch = async (url, init) => {
    if (init.method === "POST") return new Response(null, { status: 401, headers: { "www-authenticate": "Bearer" } });
    if (url === "https://big.example/.well-known/oauth-protected-resource") return new Response(huge, { status: 200 });
    return new Response(null, { status: 404 });
  };
  const result = await discover("https://big.example", { fetch });
  assert.ok(result.warnings.some((w) => w.code === "metadata_too_large"));
  assert.ok(pulled < 1024 * 1024, `read ${pulled} bytes`);
});

test("redirects are not followed: the probe's 3xx is a final status", async () => {
  const seen = [];
  const fetch = async (url, init) => {
    seen.push(init.redirect);
    if (init.method === "POST") return new Response(null, { status: 307, headers: { location: "https://elsewhere.example/mcp" } });
    return new Response(null, { status: 404 });
  };
  const result = await discover("https://moved.example/mcp", { fetch });
  assert.ok(seen.every((r) => r === "manual"));
  assert.equal(result.requires_auth, false);
  const w = result.warnings.find((w) => w.code === "redirected");
  assert.equal(w.url, "https://elsewhere.example/mcp");
  assert.ok(result.warnings.some((w) => w.code === "inconclusive" && w.status === 307));
});

test("speculative requests still in flight are cancelled when discovery ends", async () => {
  let cancelled = 0;
  const fetch = async (url, init) => {
    if (init.method === "POST") return new Response("{}", { status: 200 });
    return new Promise((_, reject) =>
      init.signal.addEventListener("abort", () => {
        cancelled++;
        reject(new DOMException("aborted", "AbortError"));
      }),
    );
  };
  const result = await discover("https://open.example/mcp", { fetch });
  assert.equal(result.requires_auth, false);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(cancelled, result.trace.length - 1);
});

test("a user fetch that throws synchronously is a network error", async () => {
  await assert.rejects(
    discover("https://x.example/mcp", {
      fetch: () => {
        throw new TypeError("boom");
      },
    }),
    { code: "unreachable" },
  );
});

test("parseWwwAuthenticate returns every challenge and never throws", () => {
  const parsed = parseWwwAuthenticate('Basic realm="a", , bearer realm="mcp", resource_metadata="https://x/.well-known/oauth-protected-resource"');
  assert.deepEqual(
    parsed.challenges.map((c) => c.scheme),
    ["Basic", "bearer"],
  );
  assert.equal(parsed.challenges[1].params.resource_metadata, "https://x/.well-known/oauth-protected-resource");
  assert.equal(parsed.challenges[1].token68, null);
  for (const junk of ['Bearer realm="unterminated', "===", "\u0000\uffff", "", null, undefined, 42]) {
    const r = parseWwwAuthenticate(junk);
    assert.ok(Array.isArray(r.challenges) && Array.isArray(r.warnings));
  }
  assert.ok(parseWwwAuthenticate('Bearer realm="unterminated').warnings.some((w) => w.code === "malformed_challenge"));
});

test("recommendAuthMode applies §6 to an edited result", () => {
  const base = { requires_auth: true, auth_url: "https://as/a", token_url: "https://as/t", evidence: { prm: "usable", authorization_server: "usable" } };
  assert.equal(recommendAuthMode(base).mode, "oauth_authorization_code_confidential_pkce");
  assert.equal(recommendAuthMode({ ...base, token_endpoint_auth_methods_supported: ["none"] }).mode, "oauth_authorization_code_public_pkce");
  assert.equal(recommendAuthMode({ ...base, token_endpoint_auth_methods_supported: ["private_key_jwt"] }).mode, null);
  assert.equal(recommendAuthMode({ ...base, auth_url: null }).mode, "oauth_client_credentials");
  assert.equal(recommendAuthMode({ requires_auth: true }).mode, "token");
  assert.equal(recommendAuthMode({ requires_auth: false }).mode, null);
  assert.throws(() => recommendAuthMode({ requires_auth: "yes" }), { code: "invalid_argument" });
});

test("a Unicode host name is sent as punycode", async () => {
  const urls = [];
  const fetch = async (url) => {
    urls.push(url);
    return new Response("{}", { status: 200 });
  };
  const result = await discover("https://bücher.example/mcp", { fetch });
  assert.equal(result.requires_auth, false);
  assert.equal(urls[0], "https://xn--bcher-kva.example/mcp");
});
