// Connections as a control-plane resource, against the real peers: list, filters, cursor
// pagination, unknown parameters; DELETE by id and by actor, and the runtime disconnect,
// each revoking the refresh token at oidc-provider (RFC 7009): the revoked token no longer
// refreshes there, while an untouched one still does. Detach drops the agent's pending flows.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CONFIDENTIAL, code, count, createServer, entry, startStack, stateOf, ticketFor } from "./scenario.mjs";
import { connectPerson, refreshAtProvider, storedConfig, storedTokens } from "./platform.mjs";

let s, w, server;
const AGENT = "agent-conn";
const PEOPLE = ["alice@example.com", "bob", "carol"];
const tickets = {};

before(async () => {
  s = await startStack();
  w = s.w;
  server = await createServer(w, "conn-sdk", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } }, [AGENT]);
  for (const p of PEOPLE) {
    tickets[p] = await ticketFor(w, p.replace(/[^A-Za-z0-9._:-]/g, "_"), [AGENT]);
  }
});

after(async () => {
  await s?.close();
});

const actorOf = (p) => p.replace(/[^A-Za-z0-9._:-]/g, "_");

test("list, filter and paginate connections; unknown parameters are refused", async () => {
  for (const p of PEOPLE) await connectPerson(w, tickets[p], AGENT, server.id);

  const all = await w.admin("/ai/connections");
  assert.equal(all.status, 200, all.text);
  assert.equal(all.json.items.length, 3);
  assert.equal(all.json.next_cursor, null);
  const first = all.json.items[0];
  assert.match(first.id, /^conn-[0-9a-f]{24}$/);
  assert.equal(first.server_id, server.id);
  assert.equal(first.status, "connected");
  assert.deepEqual(first.scopes.includes("mcp:tools"), true, JSON.stringify(first));
  assert.ok(Date.parse(first.connected_at) > 0);
  assert.ok(Date.parse(first.token_expires_at) > Date.now(), "token_expires_at is the access token's expiry");
  assert.equal(first.last_error, undefined);
  // The runtime list names the same value token_expires_at (and still expires_at).
  const mine = await entry(w, tickets[PEOPLE.find((p) => actorOf(p) === first.actor_id)], AGENT, server.id);
  assert.equal(mine.token_expires_at, first.token_expires_at);
  assert.equal(mine.expires_at, first.token_expires_at);
  assert.equal(new Set(all.json.items.map((i) => i.id)).size, 3, "ids are distinct");
  // No secret in the list.
  const tokens = await storedTokens(w, server.id, first.actor_id);
  assert.ok(!all.text.includes(tokens.access_token) && !all.text.includes(tokens.refresh_token));

  const page1 = await w.admin("/ai/connections?limit=2");
  assert.equal(page1.json.items.length, 2);
  assert.equal(typeof page1.json.next_cursor, "string");
  const page2 = await w.admin(`/ai/connections?limit=2&cursor=${encodeURIComponent(page1.json.next_cursor)}`);
  assert.equal(page2.status, 200, page2.text);
  assert.equal(page2.json.items.length, 1);
  assert.equal(page2.json.next_cursor, null);
  assert.deepEqual(
    [...page1.json.items, ...page2.json.items].map((i) => i.id),
    all.json.items.map((i) => i.id),
  );

  const bob = await w.admin("/ai/connections?actor_id=bob");
  assert.deepEqual(bob.json.items.map((i) => i.actor_id), ["bob"]);
  const byServer = await w.admin(`/ai/connections?server_id=${server.id}&status=connected`);
  assert.equal(byServer.json.items.length, 3);
  const expired = await w.admin("/ai/connections?status=expired");
  assert.deepEqual(expired.json.items, []);

  const unknown = await w.admin("/ai/connections?actor=bob");
  assert.equal(unknown.status, 400);
  assert.equal(code(unknown), "unknown_parameter");
  assert.equal(unknown.json.errors[0].path, "actor");
  assert.match(unknown.json.errors[0].message, /actor_id, server_id, status, limit, cursor/);
  const badStatus = await w.admin("/ai/connections?status=gone");
  assert.equal(badStatus.status, 400);
  assert.equal(badStatus.json.errors[0].path, "status");
  const badCursor = await w.admin("/ai/connections?cursor=zzz");
  assert.equal(badCursor.json.errors[0].path, "cursor");
  const badLimit = await w.admin("/ai/connections?limit=201");
  assert.equal(badLimit.json.errors[0].path, "limit");
});

test("DELETE /ai/connections/{id} revokes the refresh token at the provider, then deletes", async () => {
  const alice = actorOf(PEOPLE[0]);
  const list = await w.admin(`/ai/connections?actor_id=${alice}`);
  const [conn] = list.json.items;
  const aliceTokens = await storedTokens(w, server.id, alice);
  assert.ok(aliceTokens.refresh_token, "the provider issued a refresh token");

  const r = await w.admin(`/ai/connections/${conn.id}`, { method: "DELETE" });
  assert.equal(r.status, 204, r.text);
  assert.equal(await count(w, "connections", "id = ?1", conn.id), 0);
  // Revoked at oidc-provider: the token no longer refreshes there.
  const after = await refreshAtProvider(w, s.as.issuer, server.id, aliceTokens.refresh_token);
  assert.equal(after.status, 400, JSON.stringify(after.json));
  assert.equal(after.json.error, "invalid_grant");
  // The same request with a token nobody revoked still works (the check above can fail).
  const carolTokens = await storedTokens(w, server.id, "carol");
  const control = await refreshAtProvider(w, s.as.issuer, server.id, carolTokens.refresh_token);
  assert.equal(control.status, 200, JSON.stringify(control.json));

  const again = await w.admin(`/ai/connections/${conn.id}`, { method: "DELETE" });
  assert.equal(again.status, 404);
  assert.equal(code(again), "not_found");
});

test("DELETE /ai/connections?actor_id= ends every connection of that person", async () => {
  const bobTokens = await storedTokens(w, server.id, "bob");
  const r = await w.admin("/ai/connections?actor_id=bob", { method: "DELETE" });
  assert.equal(r.status, 204, r.text);
  assert.equal(await count(w, "connections", "actor_id = ?1", "bob"), 0);
  assert.equal(await count(w, "connections", "actor_id = ?1", "carol"), 1, "others keep theirs");
  const after = await refreshAtProvider(w, s.as.issuer, server.id, bobTokens.refresh_token);
  assert.equal(after.json.error, "invalid_grant");

  const none = await w.admin("/ai/connections", { method: "DELETE" });
  assert.equal(none.status, 400);
  assert.equal(code(none), "required");
  assert.equal(none.json.errors[0].path, "actor_id");
});

test("the runtime disconnect revokes at the provider too", async () => {
  const ticket = tickets.carol;
  await connectPerson(w, ticket, AGENT, server.id); // fresh tokens (the control refresh rotated them)
  const carolTokens = await storedTokens(w, server.id, "carol");
  const d = await w.call(`/service/mcp/agents/${AGENT}/servers/${server.id}/disconnect`, { method: "POST", token: ticket });
  assert.equal(d.status, 204, d.text);
  assert.equal(await count(w, "connections", "actor_id = ?1", "carol"), 0);
  const after = await refreshAtProvider(w, s.as.issuer, server.id, carolTokens.refresh_token);
  assert.equal(after.json.error, "invalid_grant");
});

test("a provider that refuses the revocation: the connection is deleted anyway, the log names no secret", async () => {
  const ticket = tickets.carol;
  await connectPerson(w, ticket, AGENT, server.id);
  const tokens = await storedTokens(w, server.id, "carol");
  // The provider forgets the client: revocation fails as invalid_client.
  const { auth } = await storedConfig(w, server.id);
  await s.as.provider.Client.adapter.destroy(auth.client_id);
  const before = w.logs.length;
  const d = await w.call(`/service/mcp/agents/${AGENT}/servers/${server.id}/disconnect`, { method: "POST", token: ticket });
  assert.equal(d.status, 204, d.text);
  assert.equal(await count(w, "connections", "actor_id = ?1", "carol"), 0);
  const logs = w.logs.slice(before).join("");
  assert.match(logs, /revocation failed \(revocation_refused/);
  for (const secret of [tokens.refresh_token, tokens.access_token, auth.client_secret]) {
    assert.ok(!logs.includes(secret), "no secret in the log");
  }
});

test("detach drops the pending consent flows started through that agent only", async () => {
  const other = "agent-other";
  await w.admin(`/ai/agents/${other}/mcp-servers/${server.id}/attach`, { method: "POST" });
  // One pending consent per person and server: two people, one through each agent.
  await stateOf(w, await ticketFor(w, "dave", [AGENT]), AGENT, server.id);
  await stateOf(w, await ticketFor(w, "erin", [other]), other, server.id);
  assert.equal(await count(w, "pending_consents", "server_id = ?1", server.id), 2);
  const r = await w.admin(`/ai/agents/${AGENT}/mcp-servers/${server.id}/detach`, { method: "POST" });
  assert.equal(r.status, 204);
  assert.equal(await count(w, "pending_consents", "server_id = ?1", server.id), 1, "the other agent's flow stays");
});

test("deleting a server revokes its connections at the provider and records why", async () => {
  const doomed = await createServer(w, "doomed", { endpoint: s.mcp.endpoint, auth: { type: CONFIDENTIAL } }, ["agent-d"]);
  await connectPerson(w, await ticketFor(w, "gus", ["agent-d"]), "agent-d", doomed.id);
  const tokens = await storedTokens(w, doomed.id, "gus");
  const { auth } = await storedConfig(w, doomed.id);
  const del = await w.admin(`/ai/mcp-servers/${doomed.id}`, { method: "DELETE" });
  assert.equal(del.status, 204);
  const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token });
  const basic = Buffer.from(`${encodeURIComponent(auth.client_id)}:${encodeURIComponent(auth.client_secret)}`).toString("base64");
  const r = await fetch(`${s.as.issuer}/token`, { method: "POST", headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" }, body: form });
  assert.equal((await r.json()).error, "invalid_grant");
  const events = (await w.admin("/ai/events?type=connection.disconnected")).json.items;
  const mine = events.find((e) => e.data.server_id === doomed.id);
  assert.equal(mine.data.reason, "server_deleted");
  assert.equal(mine.data.revocation, "revoked");
});
