// The npm package in headless Chromium (Debian's), driven by playwright-core: the browser
// entry loads with no init() through an import map, every fixture is discovered with the
// browser's own fetch against servers on 127.0.0.1 (CORS and all), a real MCP SDK server
// behind oidc-provider is discovered, and the dev page works when a person uses it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { startDevServer } from "../dev/server.mjs";
import { serveFixture } from "../node/fixture-server.mjs";
import { discoveryFixtures, root } from "../node/fixtures.mjs";
import { checkExpectations } from "../node/replay.mjs";
import { startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";

// playwright-core gives every launch a fresh temporary profile.
let browser, page, dev;

before(async () => {
  dev = await startDevServer({ port: 0, withDemos: false });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(dev.url);
  await page.waitForFunction(() => document.getElementById("go") !== null);
  assert.deepEqual(errors, []);
});

after(async () => {
  await browser?.close();
  await dev?.close();
});

function discoverInPage(endpoint, options = {}) {
  return page.evaluate(
    async ([endpoint, options]) => {
      const { discover } = await import("mcp-authlink");
      try {
        return { result: await discover(endpoint, options) };
      } catch (e) {
        return { error: { code: e.code, message: e.message, isError: e instanceof Error } };
      }
    },
    [endpoint, options],
  );
}

test("the browser entry exports work with no init()", async () => {
  const r = await page.evaluate(async () => {
    const m = await import("mcp-authlink");
    return {
      challenge: m.pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
      verifier: m.generatePkce().code_verifier,
      config: m.validateServerConfig({ config: { server_url: "x" } }),
    };
  });
  assert.equal(r.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  assert.match(r.verifier, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(r.config.errors.some((e) => e.code === "use_endpoint"));
});

for (const original of discoveryFixtures()) {
  test(`chromium fetch: ${original.name}`, async () => {
    const { fixture, close } = await serveFixture(original);
    try {
      const r = await discoverInPage(fixture.endpoint, { timeoutMs: 2000, allowIssuerMismatch: fixture.allow_issuer_mismatch === true });
      if (fixture.expect_error) {
        assert.equal(r.error?.code, fixture.expect_error);
        assert.equal(r.error.isError, true);
      } else {
        assert.deepEqual(checkExpectations(fixture, r.result ?? {}), [], JSON.stringify(r.error));
      }
    } finally {
      await close();
    }
  });
}

test("a real MCP SDK server behind oidc-provider, discovered from the page", async () => {
  const as = await startAuthServer();
  const mcp = await startMcpServer({ issuer: as.issuer });
  try {
    const { result, error } = await discoverInPage(mcp.endpoint);
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(result.requires_auth, true);
    assert.equal(result.resource, mcp.endpoint);
    assert.equal(result.issuer, as.issuer);
    assert.equal(result.resource_metadata_url, mcp.resourceMetadataUrl);
    assert.ok(result.register_url?.startsWith(as.issuer));
    assert.equal(result.pkce_s256_supported, true);
    assert.equal(result.authorization_response_iss_parameter_supported, true);
    assert.equal(result.recommended_auth_mode, "oauth_authorization_code_confidential_pkce");
    assert.deepEqual(result.scopes, ["mcp:tools"]);
  } finally {
    await mcp.close();
    await as.close();
  }
});

test("the dev page: type a URL, press Discover, read the result and the trace", async () => {
  const linear = discoveryFixtures().find((f) => f.name === "linear-prm-via-challenge");
  const { fixture, close } = await serveFixture(linear);
  try {
    await page.goto(dev.url);
    await page.fill("#endpoint", fixture.endpoint);
    await page.click("#go");
    await page.waitForSelector("#mode");
    assert.equal(await page.textContent("#mode"), "oauth_authorization_code_confidential_pkce");
    assert.match(await page.textContent("#message"), /dynamic client registration/);
    const rows = await page.$$eval("#trace tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.ok(rows.some((r) => r[1] === "POST" && r[2] === fixture.endpoint && r[5] === "used"));
    assert.ok(rows.some((r) => r[2].endsWith("/.well-known/oauth-authorization-server") && r[5] === "used"));
    await page.screenshot({ path: join(root, "build", "dev-page.png"), fullPage: true });
  } finally {
    await close();
  }
});
