// Events and their signed webhook, against the real peers: the events of a server's and a
// connection's life in GET /ai/events (cursor, type filter), each also POSTed through the
// Cloudflare Queue (miniflare runs it) to a local receiver that fails the first tries and then
// accepts; the signature is checked here with node:crypto, independently of the Worker. Also:
// the request id on every answer and in the Worker's log line.
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { after, before, test } from "node:test";
import { APP_ORIGIN, CONFIDENTIAL, callback, code, createServer, startStack, stateOf, ticketFor } from "./scenario.mjs";
import { connectPerson, eventually, startReceiver, storedTokens } from "./platform.mjs";

const SECRET = "whsec-test-0123456789";
let s, w, receiver;

before(async () => {
  receiver = await startReceiver({ failFirst: 2 });
  s = await startStack({
    accessTokenTtl: 2,
    bindings: {
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_RETRY_BASE_SECONDS: "1",
      REFRESH_LEEWAY_SECONDS: "0",
    },
  });
  w = s.w;
});

after(async () => {
  await s?.close();
  await receiver?.close();
});

/** Checks a delivery's signature the way a receiver would (Stripe-style header). */
function verify(delivery) {
  const header = delivery.headers["mcp-authlink-signature"];
  const parts = Object.fromEntries(header.split(",").map((p) => p.split("=")));
  const expected = createHmac("sha256", SECRET).update(`${parts.t}.${delivery.body}`).digest();
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected) && Math.abs(Date.now() / 1000 - Number(parts.t)) < 300;
}

async function events(query = "") {
  const r = await w.admin(`/ai/events${query}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test("server.created is listed and delivered, signed, after the receiver failed twice", async () => {
  const server = await createServer(w, "evented", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } });
  const list = await events();
  const created = list.items.find((e) => e.type === "server.created");
  assert.ok(created, JSON.stringify(list));
  assert.match(created.id, /^evt-/);
  assert.equal(created.data.server_id, server.id);
  assert.ok(Date.parse(created.created_at) > 0);

  const ok = await eventually(
    () => receiver.deliveries.find((d) => d.answered === 204 && JSON.parse(d.body).id === created.id),
    30000,
    "the webhook delivery",
  );
  const tries = receiver.deliveries.filter((d) => JSON.parse(d.body).id === created.id);
  assert.deepEqual(tries.map((d) => d.answered), [500, 500, 204], "two failures, then delivered");
  assert.ok(tries[1].at - tries[0].at >= 900, "the retry waited (backoff)");
  assert.ok(tries[2].at - tries[1].at >= 1800, "the wait doubled");
  assert.ok(verify(ok), "the signature verifies with the shared secret");
  assert.equal(ok.headers["mcp-authlink-event-id"], created.id);
  assert.deepEqual(JSON.parse(ok.body), created, "the webhook body is the event as listed");
  // A changed body does not verify (the check above can fail).
  assert.equal(verify({ ...ok, body: ok.body.replace(server.id, "srv-x") }), false);
  const row = await w.db.prepare("SELECT attempts, delivered_at FROM events WHERE id = ?1").bind(created.id).first();
  assert.equal(row.attempts, 3);
  assert.ok(row.delivered_at > 0);
});

test("connection events: connected, expired (refresh refused), disconnected; cursor and type filter", async () => {
  const start = (await events()).next_cursor;
  const server = await createServer(w, "conn-events", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } }, ["agent-e"]);
  const ticket = await ticketFor(w, "erin", ["agent-e"]);
  await connectPerson(w, ticket, "agent-e", server.id);

  // The provider forgets the refresh token: the next refresh is refused (invalid_grant).
  const tokens = await storedTokens(w, server.id, "erin");
  const rt = await s.as.provider.RefreshToken.find(tokens.refresh_token);
  assert.ok(rt, "the provider knows the refresh token");
  await rt.destroy();
  await new Promise((r) => setTimeout(r, 2500));
  const refused = await w.admin(`/ai/agents/agent-e/mcp-servers/${server.id}/access-token`, { method: "POST", body: { actor_id: "erin" } });
  assert.equal(code(refused), "connection_expired", refused.text);
  const conn = (await w.admin(`/ai/connections?actor_id=erin`)).json.items[0];
  assert.equal(conn.status, "expired");
  assert.equal(conn.last_error, "invalid_grant");

  const d = await w.call(`/service/mcp/agents/agent-e/servers/${server.id}/disconnect`, { method: "POST", token: ticket });
  assert.equal(d.status, 204);

  const later = await events(`?after=${start}`);
  const mine = later.items.filter((e) => e.data.server_id === server.id);
  assert.deepEqual(
    mine.map((e) => e.type),
    ["server.created", "connection.connected", "connection.expired", "connection.disconnected"],
  );
  const [, connected, expired, disconnected] = mine;
  assert.equal(connected.data.actor_id, "erin");
  assert.equal(connected.data.connection_id, conn.id);
  assert.equal(expired.data.reason, "invalid_grant");
  assert.equal(disconnected.data.reason, "disconnected_by_user");

  const onlyExpired = await events(`?after=${start}&type=connection.expired`);
  assert.deepEqual(onlyExpired.items.map((e) => e.id), [expired.id]);
  const none = await events(`?after=${later.next_cursor}`);
  assert.deepEqual(none.items, []);
  assert.equal(none.next_cursor, later.next_cursor, "polling from the last cursor is stable");

  const del = await w.admin(`/ai/mcp-servers/${server.id}`, { method: "DELETE" });
  assert.equal(del.status, 204);
  const deleted = await events(`?after=${later.next_cursor}&type=server.deleted`);
  assert.equal(deleted.items[0].data.server_id, server.id);

  const bad = await w.admin("/ai/events?since=1");
  assert.equal(code(bad), "unknown_parameter");
  assert.equal(bad.json.errors[0].path, "since");
  const badType = await w.admin("/ai/events?type=server.exploded");
  assert.equal(badType.json.errors[0].path, "type");
});

test("a failed consent is connection.failed with the reason", async () => {
  const start = (await events()).next_cursor;
  const server = await createServer(w, "fail-events", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } }, ["agent-f"]);
  const ticket = await ticketFor(w, "fay", ["agent-f"]);
  const state = await stateOf(w, ticket, "agent-f", server.id);
  const page = await callback(w, { s: server.id, state, error: "access_denied", iss: s.as.issuer });
  assert.equal(page.status, 400, page.text);
  const failed = (await events(`?after=${start}&type=connection.failed`)).items;
  assert.equal(failed.length, 1, JSON.stringify(failed));
  assert.equal(failed[0].data.server_id, server.id);
  assert.equal(failed[0].data.actor_id, "fay");
  assert.equal(failed[0].data.reason, "access_denied");
});

test("every answer carries x-request-id, and the Worker's log line names it", async () => {
  const r = await w.admin("/ai/mcp-servers?limit=1");
  const id = r.headers.get("x-request-id");
  assert.match(id, /^req-[0-9a-f]{16}$/);
  const e = await w.call("/ai/mcp-servers"); // 401
  assert.equal(e.status, 401);
  assert.match(e.headers.get("x-request-id"), /^req-/);
  assert.notEqual(e.headers.get("x-request-id"), id);
  await eventually(() => w.logs.join("").includes(`${id} GET /ai/mcp-servers 200`), 5000, "the log line");
  // A browser on an allowed origin may read it.
  const ticket = await ticketFor(w, "rid", ["agent-r"]);
  const cors = await w.call("/service/mcp/agents/agent-r/servers", { token: ticket, headers: { origin: APP_ORIGIN } });
  assert.equal(cors.status, 200, cors.text);
  assert.match(cors.headers.get("x-request-id"), /^req-/);
  assert.equal(cors.headers.get("access-control-expose-headers"), "x-request-id");
});
