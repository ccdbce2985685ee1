// discovery.md §8 at the Worker, with the fault proxy rewriting the real provider's token
// responses: `"expires_in": 1e300` (the live bug: every later access-token request answered
// 500) is capped at one year, and an access_token outside RFC 6750's b64token characters is a
// malformed response that stores nothing.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  CONFIDENTIAL,
  accessToken,
  callback,
  consentParams,
  count,
  createServer,
  pageCode,
  startStack,
  status,
  ticketFor,
} from "./scenario.mjs";

const AGENT = "agent-t";
const YEAR_MS = 365 * 24 * 3600 * 1000;
let s, server;

before(async () => {
  s = await startStack({ proxy: true });
  server = await createServer(s.w, "tokens", { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
});
after(() => s?.close());

test("expires_in 1e300 counts as one year; access-token keeps answering", async () => {
  const ticket = await ticketFor(s.w, "olga", [AGENT]);
  const params = await consentParams(s.w, ticket, AGENT, server.id);
  s.proxy.program({ method: "POST", path: "/token", times: 1, transform: (json) => ({ ...json, expires_in: 1e300 }) });
  const cb = await callback(s.w, params);
  assert.equal(cb.status, 200, cb.text);
  for (let i = 0; i < 3; i += 1) {
    const t = await accessToken(s.w, AGENT, server.id, "olga");
    assert.equal(t.status, 200, t.text);
    const at = Date.parse(t.json.expires_at);
    assert.ok(at > Date.now() + YEAR_MS - 60_000 && at <= Date.now() + YEAR_MS + 1000, t.json.expires_at);
  }
  assert.equal(await status(s.w, ticket, AGENT, server.id), "connected");
  s.proxy.reset();
});

test("an access_token with a space is a malformed token response: nothing stored", async () => {
  const ticket = await ticketFor(s.w, "pete", [AGENT]);
  const params = await consentParams(s.w, ticket, AGENT, server.id);
  s.proxy.program({ method: "POST", path: "/token", times: 1, transform: (json) => ({ ...json, access_token: "two words" }) });
  const cb = await callback(s.w, params);
  assert.equal(cb.status, 400, cb.text);
  assert.equal(pageCode(cb), "token_exchange_failed");
  assert.match(cb.text, /malformed token response/);
  assert.ok(!cb.text.includes("two words"));
  assert.equal(await count(s.w, "connections", "actor_id = ?1", "pete"), 0);
  s.proxy.reset();
});

test("expires_in as a string is a malformed token response", async () => {
  const ticket = await ticketFor(s.w, "quinn", [AGENT]);
  const params = await consentParams(s.w, ticket, AGENT, server.id);
  s.proxy.program({ method: "POST", path: "/token", times: 1, transform: (json) => ({ ...json, expires_in: "3600" }) });
  const cb = await callback(s.w, params);
  assert.equal(cb.status, 400, cb.text);
  assert.equal(pageCode(cb), "token_exchange_failed");
  assert.equal(await count(s.w, "connections", "actor_id = ?1", "quinn"), 0);
  s.proxy.reset();
});
