// Negative end-to-end cases of the token endpoint, injected by the fault proxy in front of the
// real oidc-provider: the code exchange of the consent callback answered by an OAuth error, a
// 500, an HTML page or never (the Worker's 8 s timeout), and refreshes refused with
// invalid_grant (the connection expires) or failing with a 500 (it stays connected).
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import {
  CONFIDENTIAL,
  accessToken,
  callback,
  code,
  consentParams,
  count,
  createServer,
  pageCode,
  startStack,
  status,
  ticketFor,
} from "./scenario.mjs";

const AGENT = "agent-tok";
let s, w, server, clientSecret;

before(async () => {
  // A leeway longer than the provider's token lifetime: every access-token call refreshes.
  s = await startStack({ proxy: true, accessTokenTtl: 600, bindings: { REFRESH_LEEWAY_SECONDS: "3600" } });
  w = s.w;
  server = await createServer(w, "token-faults", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  const [registration] = s.proxy.seen("/reg", "POST");
  clientSecret = JSON.parse(registration.response).client_secret;
  assert.ok(clientSecret);
});

after(() => s?.close());

beforeEach(() => s.proxy.reset());

const isRefresh = (req) => req.form.get("grant_type") === "refresh_token";
const isCode = (req) => req.form.get("grant_type") === "authorization_code";
const refreshes = () => s.proxy.seen("/token", "POST").filter((e) => new URLSearchParams(e.body).get("grant_type") === "refresh_token").length;
const connection = (actor) => w.db.prepare("SELECT * FROM connections WHERE actor_id = ?").bind(actor).first();

const EXCHANGE_FAULTS = [
  {
    name: "a 400 invalid_grant",
    fault: { respond: { status: 400, json: { error: "invalid_grant", error_description: "grant request is invalid" } } },
    says: /answered 400 with the OAuth error invalid_grant \(The provider&#39;s own words \(not checked by this service\): \u201cgrant request is invalid\u201d\)/,
  },
  {
    name: "a 500",
    fault: { respond: { status: 500, headers: { "content-type": "text/plain" }, body: "Internal Server Error" } },
    says: /answered 500 with a body that is not JSON/,
  },
  {
    name: "an HTML page",
    fault: { respond: { status: 200, headers: { "content-type": "text/html" }, body: "<!doctype html><title>Sign in</title><form>password</form>" } },
    says: /answered 200 with an HTML page instead of JSON/,
  },
  {
    name: "no answer (timeout)",
    fault: { hang: true },
    says: /the token endpoint did not answer in time/,
  },
];

for (const [i, { name, fault, says }] of EXCHANGE_FAULTS.entries()) {
  test(`code exchange answered by ${name}: 400 token_exchange_failed, nothing stored or echoed`, async () => {
    const actor = `exchange-${i}`;
    const ticket = await ticketFor(w, actor, [AGENT]);
    const params = await consentParams(w, ticket, AGENT, server.id);
    const rule = s.proxy.program({ method: "POST", path: "/token", when: isCode, ...fault });
    const started = Date.now();
    const r = await callback(w, params);
    assert.equal(rule.used, 1, "the Worker did call the token endpoint");
    assert.equal(r.status, 400, r.text);
    assert.equal(pageCode(r), "token_exchange_failed");
    assert.match(r.text, says);
    assert.match(r.text, /nothing was connected\. Start connecting again from the app\./);
    if (fault.hang) assert.ok(Date.now() - started >= 7500, "the Worker waited for its timeout");

    assert.equal(await count(w, "connections", "actor_id = ?", actor), 0);
    assert.equal(await count(w, "pending_consents", "actor_id = ?", actor), 0, "the state was consumed");
    assert.equal(await status(w, ticket, AGENT, server.id), "not_connected");
    const [request] = s.proxy.seen("/token", "POST");
    const verifier = new URLSearchParams(request.body).get("code_verifier");
    for (const secret of [params.get("code"), verifier, clientSecret, request.headers.authorization]) {
      assert.ok(secret && !r.text.includes(secret), "no code, verifier or client credential on the page");
    }
    // The state is spent: the same answer cannot be replayed once the endpoint recovers.
    assert.equal(pageCode(await callback(w, params)), "invalid_state");
  });
}

/** Connects `actor` through a real consent. */
async function connected(actor) {
  const ticket = await ticketFor(w, actor, [AGENT]);
  const cb = await callback(w, await consentParams(w, ticket, AGENT, server.id));
  assert.equal(cb.status, 200, cb.text);
  return ticket;
}

test("a failed re-consent leaves the existing connection exactly as it was", async () => {
  const ticket = await connected("reed");
  const before = await connection("reed");
  const params = await consentParams(w, ticket, AGENT, server.id);
  s.proxy.program({ method: "POST", path: "/token", when: isCode, respond: { status: 400, json: { error: "invalid_grant" } } });
  const r = await callback(w, params);
  assert.equal(r.status, 400);
  assert.equal(pageCode(r), "token_exchange_failed");
  assert.deepEqual(await connection("reed"), before);
  assert.equal(await status(w, ticket, AGENT, server.id), "connected");
});

test("refresh refused with invalid_grant: 409 connection_expired, the list says expired", async () => {
  const ticket = await connected("rex");
  const rule = s.proxy.program({ method: "POST", path: "/token", when: isRefresh, respond: { status: 400, json: { error: "invalid_grant", error_description: "refresh token revoked" } } });
  const r = await accessToken(w, AGENT, server.id, "rex");
  assert.equal(rule.used, 1);
  assert.equal(r.status, 409, r.text);
  assert.equal(code(r), "connection_expired");
  assert.match(r.json.errors[0].message, /must connect again/);
  assert.equal(await status(w, ticket, AGENT, server.id), "expired");
  assert.equal((await connection("rex")).status, "expired");

  // Expired stays expired without asking the provider again.
  const again = await accessToken(w, AGENT, server.id, "rex");
  assert.equal(code(again), "connection_expired");
  assert.equal(refreshes(), 1);

  // A new consent heals it.
  s.proxy.reset();
  const cb = await callback(w, await consentParams(w, ticket, AGENT, server.id));
  assert.equal(cb.status, 200, cb.text);
  assert.equal(await status(w, ticket, AGENT, server.id), "connected");
  assert.equal((await accessToken(w, AGENT, server.id, "rex")).status, 200);
});

test("refresh failing with a 500: 502 token_request_failed, still connected, the lease released", async () => {
  const ticket = await connected("rita");
  const before = await connection("rita");
  const rule = s.proxy.program({ method: "POST", path: "/token", when: isRefresh, times: 1, respond: { status: 500, json: { error: "server_error" } } });
  const r = await accessToken(w, AGENT, server.id, "rita");
  assert.equal(rule.used, 1);
  assert.equal(r.status, 502, r.text);
  assert.equal(code(r), "token_request_failed");
  assert.match(r.json.errors[0].message, /answered 500 with the OAuth error server_error/);
  assert.equal(await status(w, ticket, AGENT, server.id), "connected");
  const after = await connection("rita");
  assert.deepEqual({ ...after, refresh_until: null }, before, "tokens and version unchanged");
  assert.equal(after.refresh_until, null, "the refresh lease is released");

  // An HTML page instead of JSON fails the same way (the timeout is covered by the code
  // exchange above).
  s.proxy.program({ method: "POST", path: "/token", when: isRefresh, times: 1, respond: { status: 502, headers: { "content-type": "text/html" }, body: "<html><body>Bad gateway</body></html>" } });
  const html = await accessToken(w, AGENT, server.id, "rita");
  assert.equal(html.status, 502, html.text);
  assert.equal(code(html), "token_request_failed");
  assert.equal(await status(w, ticket, AGENT, server.id), "connected");

  // Once the provider recovers, the kept refresh token works.
  s.proxy.reset();
  const ok = await accessToken(w, AGENT, server.id, "rita");
  assert.equal(ok.status, 200, ok.text);
  assert.equal(refreshes(), 1);
  const refreshed = await connection("rita");
  assert.equal(refreshed.version, before.version + 1);
  assert.equal(refreshed.status, "connected");
});
