// Negative end-to-end cases of provisioning against the real oidc-provider behind the fault
// proxy: dynamic client registration refused for every method, a provider without a
// registration endpoint, and oversized metadata documents.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { CONFIDENTIAL, PUBLIC, code, count, snapshot, startStack } from "./scenario.mjs";

let s, w;

before(async () => {
  s = await startStack({ proxy: true });
  w = s.w;
});

after(() => s?.close());

beforeEach(() => s.proxy.reset());

const ASM = /^\/\.well-known\/(oauth-authorization-server|openid-configuration)$/;
const PRM = "/.well-known/oauth-protected-resource/mcp";

const create = (name, auth) => w.admin("/ai/mcp-servers", { method: "POST", body: { name, config: { endpoint: s.endpoint, auth } } });
const registrations = () => s.proxy.seen("/reg", "POST").map((e) => JSON.parse(e.body).token_endpoint_auth_method);

test("DCR refused for every method (confidential): 502 registration_failed with each try's error, nothing stored", async () => {
  const before = await snapshot(w);
  const refusal = { error: "invalid_client_metadata", error_description: "registration is closed for tests" };
  const rule = s.proxy.program({ method: "POST", path: "/reg", respond: { status: 400, json: refusal } });
  const r = await create("dcr-refused", { type: CONFIDENTIAL });
  assert.equal(r.status, 502, r.text);
  assert.equal(code(r), "registration_failed");
  assert.match(r.json.errors[0].message, /\S/);
  assert.deepEqual(registrations(), ["client_secret_basic", "client_secret_post", "none"], "discovery.md §7 order");
  assert.equal(rule.used, 3);
  const tries = r.json.errors.slice(1);
  assert.deepEqual(tries.map((e) => e.try.method), ["client_secret_basic", "client_secret_post", "none"]);
  for (const t of tries) {
    assert.equal(t.code, "registration_failed");
    assert.equal(t.try.status, 400);
    assert.equal(t.try.error, "invalid_client_metadata");
    assert.equal(t.try.error_description, refusal.error_description);
    assert.match(t.message, new RegExp(`^${t.try.method}: registration is closed for tests`));
  }
  assert.deepEqual(await snapshot(w), before);
  const list = await w.admin("/ai/mcp-servers");
  assert.ok(!list.json.items.some((i) => i.name === "dcr-refused"));
});

test("DCR failing differently on each try: every error is reported", async () => {
  let n = 0;
  s.proxy.program({
    method: "POST",
    path: "/reg",
    when: () => (n += 1) === 1,
    respond: { status: 500, headers: { "content-type": "text/html" }, body: "<html><body>upstream down</body></html>" },
  });
  // The second try is answered 201 without a client_secret: not usable for client_secret_post.
  s.proxy.program({
    method: "POST",
    path: "/reg",
    when: (req) => JSON.parse(req.body).token_endpoint_auth_method === "client_secret_post",
    respond: { status: 201, json: { client_id: "no-secret", token_endpoint_auth_method: "client_secret_post" } },
  });
  s.proxy.program({ method: "POST", path: "/reg", respond: { status: 403, json: { error: "access_denied" } } });
  const before = await count(w, "servers");
  const r = await create("dcr-mixed", { type: CONFIDENTIAL });
  assert.equal(r.status, 502, r.text);
  assert.equal(code(r), "registration_failed");
  const tries = r.json.errors.slice(1).map((e) => e.try);
  assert.deepEqual(tries.map((t) => [t.method, t.status]), [
    ["client_secret_basic", 500],
    ["client_secret_post", 201],
    ["none", 403],
  ]);
  assert.equal(tries[2].error, "access_denied");
  for (const t of tries) assert.ok(t.error, JSON.stringify(t));
  assert.equal(await count(w, "servers"), before);
});

test("DCR refused for a public client: one try with none, 502 registration_failed", async () => {
  s.proxy.program({ method: "POST", path: "/reg", respond: { status: 400, json: { error: "invalid_redirect_uri" } } });
  const before = await snapshot(w);
  const r = await create("dcr-public-refused", { type: PUBLIC });
  assert.equal(r.status, 502, r.text);
  assert.equal(code(r), "registration_failed");
  assert.deepEqual(registrations(), ["none"]);
  assert.deepEqual(r.json.errors.slice(1).map((e) => [e.try.method, e.try.error]), [["none", "invalid_redirect_uri"]]);
  assert.deepEqual(await snapshot(w), before);
});

test("a provider without registration_endpoint: 400 registration_unavailable, nothing stored", async () => {
  s.proxy.program({
    path: ASM,
    transform: ({ registration_endpoint: _, ...doc }) => doc,
  });
  const before = await snapshot(w);
  for (const type of [PUBLIC, CONFIDENTIAL]) {
    const r = await create(`no-dcr-${type}`, { type });
    assert.equal(r.status, 400, r.text);
    assert.equal(code(r), "registration_unavailable");
    assert.equal(r.json.errors[0].path, "config.auth.client_id");
    assert.match(r.json.errors[0].message, /no registration endpoint: supply client_id \(and client_secret/);
  }
  assert.equal(s.proxy.seen("/reg").length, 0, "nothing registered");
  assert.deepEqual(await snapshot(w), before);

  // The same provider with a hand-registered client works: the error named the right fix.
  const r = await create("no-dcr-by-hand", { type: PUBLIC, client_id: "registered-elsewhere" });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.server.config.auth.register_url, undefined);
  assert.equal((await w.admin(`/ai/mcp-servers/${r.json.server.id}`, { method: "DELETE" })).status, 204);
});

const PADDING = "x".repeat(300 * 1024);

test("protected resource metadata over 256 KiB: ignored with metadata_too_large, the Worker keeps working", async () => {
  s.proxy.program({ path: PRM, transform: (doc) => ({ ...doc, padding: PADDING }) });
  const r = await w.admin("/ai/mcp-servers/discover", { method: "POST", body: { endpoint: s.endpoint } });
  assert.equal(r.status, 200, r.text);
  const warning = r.json.warnings.find((x) => x.code === "metadata_too_large");
  assert.ok(warning, JSON.stringify(r.json.warnings));
  assert.equal(warning.url, `${s.proxy.origin}${PRM}`);
  assert.match(warning.message, /larger than 256 KiB and was ignored/);
  assert.notEqual(r.json.resource_metadata_url, `${s.proxy.origin}${PRM}`);
  assert.equal(r.json.evidence.prm === "usable", false);

  // The next request is served normally.
  s.proxy.reset();
  const ok = await w.admin("/ai/mcp-servers/discover", { method: "POST", body: { endpoint: s.endpoint } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.resource_metadata_url, `${s.proxy.origin}${PRM}`);
  assert.ok(!ok.json.warnings.some((x) => x.code === "metadata_too_large"));
});

test("authorization server metadata over 256 KiB: ignored with metadata_too_large, nothing created from it", async () => {
  s.proxy.program({ path: ASM, transform: (doc) => ({ ...doc, padding: PADDING }) });
  const r = await w.admin("/ai/mcp-servers/discover", { method: "POST", body: { endpoint: s.endpoint } });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.warnings.some((x) => x.code === "metadata_too_large"), JSON.stringify(r.json.warnings));
  assert.equal(r.json.issuer, null);
  assert.equal(r.json.register_url, null);

  const before = await snapshot(w);
  // Refused as what it is: no usable authorization server (not "no registration endpoint").
  const c = await create("huge-asm", { type: PUBLIC });
  assert.equal(c.status, 502, c.text);
  assert.equal(c.json.errors[0].code, "authorization_server_unusable");
  assert.equal(c.json.errors[0].path, "config.auth");
  assert.ok(c.json.discovery_result.warnings.some((x) => x.code === "metadata_too_large"));
  assert.deepEqual(await snapshot(w), before);
  assert.equal(s.proxy.seen("/reg").length, 0);
});
