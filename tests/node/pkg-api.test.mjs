// The built npm package in Node: config vectors, PKCE, state, authorization URL, hydration
// and registration methods.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import {
  buildAuthorizationUrl,
  discover,
  generatePkce,
  generateState,
  hydrateServerConfig,
  pkceChallenge,
  registrationMethods,
  validateServerConfig,
} from "mcp-authlink";
import { configVectors, discoveryFixtures } from "./fixtures.mjs";
import { replayFetch } from "./replay.mjs";

const vectors = configVectors();

test("the shared config vectors are all here", () => {
  assert.ok(vectors.filter((v) => v.file.includes("/shared/")).length >= 12);
});

for (const v of vectors) {
  test(`config vector ${v.name}`, () => {
    if (v.policy && v.policy !== "client") return; // server policies are the Worker's
    const r = validateServerConfig(v.input);
    if (v.expect_ok) {
      assert.equal(r.ok, true, JSON.stringify(r.errors));
      // The normalised body validates to itself.
      assert.deepEqual(validateServerConfig(r.value), r);
      return;
    }
    assert.equal(r.ok, false);
    for (const want of v.expect_errors) {
      assert.ok(
        r.errors.some((e) => e.code === want.code && (want.path === undefined || e.path === want.path)),
        `missing ${JSON.stringify(want)} in ${JSON.stringify(r.errors)}`,
      );
    }
    for (const e of r.errors) {
      assert.equal(typeof e.message, "string");
      assert.ok(e.message.length > 10);
    }
    if (v.exact) assert.equal(r.errors.length, v.expect_errors.length);
  });
}

test("validation reports every problem at once, with paths and fixes", () => {
  const r = validateServerConfig({ config: { server_url: "http://x", type: "token", endpont: 1 } });
  assert.equal(r.ok, false);
  const got = r.errors.map((e) => `${e.path}:${e.code}`);
  for (const want of ["name:required", "config.server_url:use_endpoint", "config.type:auth_not_nested", "config.endpont:unknown_field"]) {
    assert.ok(got.includes(want), `${want} not in ${got}`);
  }
  assert.match(r.errors.find((e) => e.code === "use_endpoint").message, /config\.endpoint/);
  assert.equal(validateServerConfig(null).ok, false);
  assert.equal(validateServerConfig("nope").ok, false);
});

test("RFC 7636 Appendix B vector", () => {
  assert.equal(pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  for (const bad of ["short", "a".repeat(129), "a".repeat(42) + "!", 7]) {
    assert.throws(() => pkceChallenge(bad), { code: "invalid_verifier" });
  }
});

test("generatePkce makes a fresh verifier whose challenge Node's crypto agrees with", () => {
  const a = generatePkce();
  const b = generatePkce();
  assert.notEqual(a.code_verifier, b.code_verifier);
  assert.equal(a.code_challenge_method, "S256");
  assert.match(a.code_verifier, /^[A-Za-z0-9_-]{43,128}$/);
  assert.equal(a.code_challenge, createHash("sha256").update(a.code_verifier).digest("base64url"));
  const s = generateState();
  assert.ok(Buffer.from(s, "base64url").length >= 16);
  assert.notEqual(s, generateState());
});

test("buildAuthorizationUrl sets §8's parameters and keeps the endpoint's query", () => {
  const pkce = generatePkce();
  const url = new URL(
    buildAuthorizationUrl({
      auth_url: "https://as.example/authorize?audience=x",
      client_id: "c1",
      redirect_uri: "https://app.example/service/mcp/consent/callback",
      state: "st",
      code_challenge: pkce.code_challenge,
      scopes: ["a", "b"],
      resource: "https://mcp.example/mcp",
    }),
  );
  const p = Object.fromEntries(url.searchParams);
  assert.deepEqual(p, {
    audience: "x",
    response_type: "code",
    client_id: "c1",
    redirect_uri: "https://app.example/service/mcp/consent/callback",
    state: "st",
    code_challenge: pkce.code_challenge,
    code_challenge_method: "S256",
    scope: "a b",
    resource: "https://mcp.example/mcp",
  });
  assert.throws(() => buildAuthorizationUrl({ auth_url: "nope" }), { code: "invalid_argument" });
});

test("hydrateServerConfig fills from discovery and never overwrites", async () => {
  const linear = discoveryFixtures().find((f) => f.name === "linear-prm-via-challenge");
  const d = await discover(linear.endpoint, { fetch: replayFetch(linear).fetch });
  const config = {
    endpoint: linear.endpoint,
    auth: { type: "oauth_authorization_code_confidential_pkce", token_url: "https://mine.example/token" },
  };
  const h = hydrateServerConfig(config, d);
  assert.equal(h.auth.token_url, "https://mine.example/token");
  assert.equal(h.auth.auth_url, d.auth_url);
  assert.equal(h.auth.register_url, d.register_url);
  assert.equal(h.auth.resource, d.resource);
  assert.deepEqual(h.auth.scopes, d.scopes);
  assert.deepEqual(registrationMethods(d), ["client_secret_basic", "client_secret_post", "none"]);
  assert.deepEqual(registrationMethods({ ...d, recommended_auth_mode: "oauth_authorization_code_public_pkce" }), ["none"]);
  assert.deepEqual(registrationMethods({ ...d, recommended_auth_mode: "token" }), []);
});
