// The Worker's one error path (issue 9 item 13): every refusal is `{"errors": [{code,
// message, …}]}` with the status that `src/worker/error.rs` gives it. The three 404s that share
// the wire code `not_found` (no such route, no such server or connection, a server that is not
// attached to the agent) are told apart by their messages, which the npm client relies on
// (`not_found` on an agent route reads as `not_attached`); a 500 says in words what failed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startWorker } from "./harness.mjs";

let w, server, ticket;

before(async () => {
  w = await startWorker();
  // A token server needs no provider: nothing here reaches the network but the (failed)
  // discovery that create runs for its warnings.
  const r = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: { name: "errors", config: { endpoint: "http://127.0.0.1:9/mcp", auth: { type: "token", auth_token: "tok-errors" } } },
  });
  assert.equal(r.status, 201, r.text);
  server = r.json.server;
  const attach = await w.admin(`/ai/agents/agent-in/mcp-servers/${server.id}/attach`, { method: "POST" });
  assert.equal(attach.status, 204, attach.text);
  const t = await w.admin("/ai/session-tickets", { method: "POST", body: { actor_id: "erin", agent_ids: ["agent-in", "agent-out"] } });
  assert.equal(t.status, 201, t.text);
  ticket = t.json.ticket;
});

after(() => w?.close());

/** The one error of an answer, after checking the envelope. */
function only(r, status) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get("content-type"), /^application\/json/);
  assert.ok(Array.isArray(r.json?.errors), r.text);
  assert.equal(r.json.errors.length, 1, r.text);
  return r.json.errors[0];
}

test("no such route, on both planes: 404 not_found that points at the API", async () => {
  for (const r of [
    await w.admin("/ai/nothing-here"),
    await w.admin(`/ai/mcp-servers/${server.id}/nothing`, { method: "POST" }),
    await w.call("/service/mcp/nothing"),
    await w.call("/service/mcp/agents/agent-in/servers/x/nothing", { method: "POST", token: ticket }),
  ]) {
    const e = only(r, 404);
    assert.equal(e.code, "not_found");
    assert.equal(e.message, "No such route: see the API in README.md.");
  }
});

test("no such server or connection: 404 not_found naming what has no such id", async () => {
  for (const r of [
    await w.admin("/ai/mcp-servers/srv-unknown"),
    await w.admin("/ai/mcp-servers/srv-unknown", { method: "DELETE" }),
    await w.admin("/ai/agents/agent-in/mcp-servers/srv-unknown/attach", { method: "POST" }),
  ]) {
    const e = only(r, 404);
    assert.equal(e.code, "not_found");
    assert.equal(e.message, "No server with that id.");
  }
  const e = only(await w.admin("/ai/connections/conn-unknown", { method: "DELETE" }), 404);
  assert.equal(e.code, "not_found");
  assert.equal(e.message, "No connection with that id.");
});

test("a server not attached to the agent: 404 not_found that says so, on both planes", async () => {
  for (const r of [
    await w.admin(`/ai/agents/agent-out/mcp-servers/${server.id}/access-token`, { method: "POST", body: { actor_id: "erin" } }),
    await w.call(`/service/mcp/agents/agent-out/servers/${server.id}/disconnect`, { method: "POST", token: ticket }),
    await w.call(`/service/mcp/agents/agent-out/servers/${server.id}/connect`, { method: "POST", token: ticket }),
  ]) {
    const e = only(r, 404);
    assert.equal(e.code, "not_found");
    assert.equal(e.message, "This server is not attached to the agent.");
  }
  // Through the agent it is attached to, the same server answers.
  const ok = await w.admin(`/ai/agents/agent-in/mcp-servers/${server.id}/access-token`, { method: "POST", body: { actor_id: "erin" } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.access_token, "tok-errors");
});

test("field errors carry their path; an unknown query parameter is named", async () => {
  let e = only(await w.admin("/ai/mcp-servers?limit=0"), 400);
  assert.deepEqual(e, { code: "invalid_value", message: "limit must be 1 to 200.", path: "limit" });
  e = only(await w.admin("/ai/agents/a%00b/mcp-servers"), 400);
  assert.equal(e.code, "invalid_value");
  assert.equal(e.path, "agent_id");
  assert.match(e.message, /^agent_id must be 1 to 255 characters with no control characters/);
  e = only(await w.admin("/ai/events?color=blue"), 400);
  assert.deepEqual(e, {
    code: "unknown_parameter",
    message: '"color" is not a query parameter of this route: use after, limit, type.',
    path: "color",
  });
  e = only(await w.admin("/ai/mcp-servers", { method: "POST", body: "[1]" }), 400);
  assert.deepEqual(e, { code: "invalid_json", message: "The body must be a JSON object." });
});

test("a stored config that cannot be opened: 500 unsealable saying what failed and the likely cause", async () => {
  const r = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: { name: "sealed", config: { endpoint: "http://127.0.0.1:9/mcp", auth: { type: "token", auth_token: "tok-sealed" } } },
  });
  assert.equal(r.status, 201, r.text);
  const id = r.json.server.id;
  await w.admin(`/ai/agents/agent-in/mcp-servers/${id}/attach`, { method: "POST" });
  // As if SEAL_KEY had changed: the sealed config no longer opens.
  await w.db.prepare("UPDATE servers SET config_sealed = ?1 WHERE id = ?2").bind("v1.AAAA.AAAA", id).run();
  const e = only(await w.admin(`/ai/agents/agent-in/mcp-servers/${id}/access-token`, { method: "POST", body: { actor_id: "erin" } }), 500);
  assert.deepEqual(e, { code: "unsealable", message: "A stored config could not be opened: was SEAL_KEY changed?" });
  assert.doesNotMatch(JSON.stringify(e), /tok-sealed/);
});
