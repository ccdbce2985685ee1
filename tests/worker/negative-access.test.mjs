// Negative end-to-end cases of access control: session tickets on the runtime plane (missing,
// forged, expired, out of scope, another agent's), the admin key on every control-plane route
// family, and CORS for browser callers. Each refusal leaves the stored state as it was.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { after, before, test } from "node:test";
import { ADMIN_KEY, DEV_BINDINGS } from "./harness.mjs";
import {
  APP_ORIGIN,
  PUBLIC,
  accessToken,
  callback,
  code,
  consentParams,
  createServer,
  sleep,
  snapshot,
  startStack,
  status,
  ticketFor,
} from "./scenario.mjs";

let s, w, server, aliceA;

before(async () => {
  s = await startStack();
  w = s.w;
  server = await createServer(w, "guarded", { endpoint: s.endpoint, auth: { type: PUBLIC } }, ["agent-a"]);
  aliceA = await ticketFor(w, "alice", ["agent-a"]);
  const cb = await callback(w, await consentParams(w, aliceA, "agent-a", server.id));
  assert.equal(cb.status, 200, cb.text);
});

after(() => s?.close());

const b64 = (v) => Buffer.from(v).toString("base64url");
/** The key id of a TICKET_KEY (README: session tickets). */
const kidOf = (key) => createHash("sha256").update(`mcp-authlink ticket key id\n${key}`).digest("base64url").slice(0, 8);
function sign(claims, key = DEV_BINDINGS.TICKET_KEY, kid = kidOf(key)) {
  const payload = b64(JSON.stringify(claims));
  return `v2.${kid}.${payload}.${createHmac("sha256", key).update(`v2.${kid}.${payload}`).digest("base64url")}`;
}
const claims = (over = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return { actor_id: "alice", agent_ids: ["agent-a"], issued_at: now, expires_at: now + 600, ...over };
};

/** The three runtime routes for agent-a / the server, called with `headers`. */
function runtimeCalls(headers, agent = "agent-a") {
  const base = `/service/mcp/agents/${agent}/servers`;
  return [
    w.call(base, { headers }),
    w.call(`${base}/${server.id}/connect`, { method: "POST", headers, body: {} }),
    w.call(`${base}/${server.id}/disconnect`, { method: "POST", headers }),
  ];
}

async function assertAllRefused(headers, statusCode, errorCode, label, agent) {
  const before = await snapshot(w);
  for (const r of await Promise.all(runtimeCalls(headers, agent))) {
    assert.equal(r.status, statusCode, `${label}: ${r.text}`);
    assert.equal(code(r), errorCode, label);
  }
  assert.deepEqual(await snapshot(w), before, `${label}: nothing changed`);
}

test("a ticket signed with TICKET_KEY in the documented format is accepted (control for the forgeries)", async () => {
  const r = await w.call("/service/mcp/agents/agent-a/servers", { token: sign(claims()) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items[0].connection_status, "connected");
});

test("missing, malformed and forged tickets: 401 invalid_ticket on every runtime route", async () => {
  const good = await ticketFor(w, "alice", ["agent-a"]);
  const [v, kid, payload, mac] = good.split(".");
  const head = `${v}.${kid}`;
  const flip = (str, i) => str.slice(0, i) + (str[i] === "A" ? "B" : "A") + str.slice(i + 1);
  const forged = {
    "no Authorization": {},
    "an empty bearer": { authorization: "Bearer " },
    "another scheme": { authorization: `Basic ${good}` },
    // The last character of 32 bytes in base64url carries 4 bits: A <-> Q changes one of them.
    "the signature changed (last character)": { authorization: `Bearer ${head}.${payload}.${mac.slice(0, -1)}${mac.endsWith("Q") ? "A" : "Q"}` },
    "the signature changed (first character)": { authorization: `Bearer ${head}.${payload}.${flip(mac, 0)}` },
    "no signature": { authorization: `Bearer ${head}.${payload}.` },
    "the claims changed, the signature kept": {
      authorization: `Bearer ${head}.${b64(JSON.stringify(claims({ agent_ids: ["agent-a", "agent-z"] })))}.${mac}`,
    },
    "signed with another key": { authorization: `Bearer ${sign(claims(), "another-ticket-key-0123456789abcdef0123")}` },
    "signed with another key, labelled with this key's id": {
      authorization: `Bearer ${sign(claims(), "another-ticket-key-0123456789abcdef0123", kid)}`,
    },
    "the v1 format (before key ids)": { authorization: `Bearer v1.${payload}.${mac}` },
    "the admin key as a ticket": { authorization: `Bearer ${ADMIN_KEY}` },
    "another version": { authorization: `Bearer v3.${kid}.${payload}.${mac}` },
    "garbage": { authorization: "Bearer not-a-ticket" },
    "oversized": { authorization: `Bearer ${head}.${"A".repeat(17000)}.${mac}` },
  };
  for (const [label, headers] of Object.entries(forged)) {
    await assertAllRefused(headers, 401, "invalid_ticket", label);
  }
  const r = await w.call("/service/mcp/agents/agent-a/servers");
  assert.match(r.json.errors[0].message, /session ticket.*POST \/ai\/session-tickets/);
});

test("expired tickets: 401 invalid_ticket", async () => {
  const issued = await w.admin("/ai/session-tickets", { method: "POST", body: { actor_id: "alice", agent_ids: ["agent-a"], ttl_seconds: 1 } });
  assert.equal(issued.status, 201, issued.text);
  const short = issued.json.ticket;
  assert.ok(Date.parse(issued.json.expires_at) - Date.now() <= 1000, issued.json.expires_at);
  await sleep(2100);
  await assertAllRefused({ authorization: `Bearer ${short}` }, 401, "invalid_ticket", "ttl 1 s, 2 s later");
  const past = claims({ issued_at: 1000, expires_at: 2000 });
  await assertAllRefused({ authorization: `Bearer ${sign(past)}` }, 401, "invalid_ticket", "expired long ago, validly signed");
});

test("session tickets: bad requests are refused with the field named, no ticket issued", async () => {
  for (const [body, path] of [
    [{ actor_id: "alice", agent_ids: ["agent-a"], ttl_seconds: 86401 }, "ttl_seconds"],
    [{ actor_id: "alice", agent_ids: ["agent-a"], ttl_seconds: 0 }, "ttl_seconds"],
    [{ actor_id: "alice", agent_ids: ["agent-a"], ttl_seconds: "60" }, "ttl_seconds"],
    [{ actor_id: "alice", agent_ids: [] }, "agent_ids"],
    [{ actor_id: "alice", agent_ids: "agent-a" }, "agent_ids"],
    [{ actor_id: "alice", agent_ids: ["agent\na"] }, "agent_ids[0]"],
    [{ actor_id: "", agent_ids: ["agent-a"] }, "actor_id"],
    [{ actor_id: "x".repeat(256), agent_ids: ["agent-a"] }, "actor_id"],
    [{ agent_ids: ["agent-a"] }, "actor_id"],
  ]) {
    const r = await w.admin("/ai/session-tickets", { method: "POST", body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.errors[0].path, path, r.text);
    assert.equal(r.json.ticket, undefined);
  }
});

test("an agent outside the ticket: 403 agent_not_in_scope; another agent's ticket cannot connect or disconnect", async () => {
  const aliceB = await ticketFor(w, "alice", ["agent-b"]);
  await assertAllRefused({ authorization: `Bearer ${aliceB}` }, 403, "agent_not_in_scope", "alice, scoped to agent-b");
  const r = await w.call("/service/mcp/agents/agent-a/servers", { token: aliceB });
  assert.match(r.json.errors[0].message, /does not cover this agent/);
  // A prefix or different case of an agent id is another agent.
  const prefixed = await ticketFor(w, "alice", ["agent-", "AGENT-A", "agent-a-2"]);
  await assertAllRefused({ authorization: `Bearer ${prefixed}` }, 403, "agent_not_in_scope", "near-miss agent ids");

  // Through its own agent the server is not attached: 404, and alice's connection stays.
  const viaB = await w.call(`/service/mcp/agents/agent-b/servers/${server.id}/disconnect`, { method: "POST", token: aliceB });
  assert.equal(viaB.status, 404, viaB.text);
  const connectB = await w.call(`/service/mcp/agents/agent-b/servers/${server.id}/connect`, { method: "POST", token: aliceB, body: {} });
  assert.equal(connectB.status, 404, connectB.text);
  assert.equal(await status(w, aliceA, "agent-a", server.id), "connected");
  assert.equal((await accessToken(w, "agent-a", server.id, "alice")).status, 200);
});

test("missing or wrong admin key: 401 on every control-plane route family, nothing changed", async () => {
  const id = server.id;
  const routes = [
    ["POST", "/ai/mcp-servers/discover", { endpoint: s.endpoint }],
    ["POST", "/ai/mcp-servers", { name: "intruder", config: { endpoint: s.endpoint, auth: { type: "token", auth_token: "x" } } }],
    ["GET", "/ai/mcp-servers"],
    ["GET", "/ai/mcp-servers?limit=200"],
    ["GET", `/ai/mcp-servers/${id}`],
    ["PATCH", `/ai/mcp-servers/${id}`, { name: "renamed" }],
    ["DELETE", `/ai/mcp-servers/${id}`],
    ["POST", `/ai/agents/agent-x/mcp-servers/${id}/attach`],
    ["POST", `/ai/agents/agent-a/mcp-servers/${id}/detach`],
    ["GET", "/ai/agents/agent-a/mcp-servers"],
    ["POST", "/ai/session-tickets", { actor_id: "alice", agent_ids: ["agent-a"] }],
    ["POST", `/ai/agents/agent-a/mcp-servers/${id}/access-token`, { actor_id: "alice" }],
    ["GET", "/ai/no-such-route"],
  ];
  const wrong = {
    none: {},
    "a wrong key": { authorization: "Bearer wrong-admin-key-0123456789" },
    "the key with a suffix": { authorization: `Bearer ${ADMIN_KEY}x` },
    "a prefix of the key": { authorization: `Bearer ${ADMIN_KEY.slice(0, -1)}` },
    "another scheme": { authorization: `Basic ${ADMIN_KEY}` },
    "a session ticket": { authorization: `Bearer ${aliceA}` },
    "the TICKET_KEY": { authorization: `Bearer ${DEV_BINDINGS.TICKET_KEY}` },
  };
  const before = await snapshot(w);
  for (const [label, headers] of Object.entries(wrong)) {
    for (const [method, path, body] of routes) {
      const r = await w.call(path, { method, headers, body });
      assert.equal(r.status, 401, `${label} ${method} ${path}: ${r.text}`);
      assert.equal(code(r), "unauthorized");
      assert.match(r.json.errors[0].message, /Authorization: Bearer <ADMIN_API_KEY>/);
      assert.ok(!r.text.includes("access_token") && !r.text.includes('"ticket"'), r.text);
    }
  }
  assert.deepEqual(await snapshot(w), before);
  assert.equal((await w.admin(`/ai/mcp-servers/${id}`)).json.name, "guarded");
});

test("CORS: a preflight from an allowed origin gets it back exactly; other origins get no ACAO", async () => {
  const preflight = (origin, path = "/service/mcp/agents/agent-a/servers") =>
    w.call(path, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
  const ok = await preflight(APP_ORIGIN);
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get("access-control-allow-origin"), APP_ORIGIN);
  assert.match(ok.headers.get("access-control-allow-headers"), /authorization/);
  assert.match(ok.headers.get("access-control-allow-methods"), /POST/);
  assert.match(ok.headers.get("vary") ?? "", /origin/i);
  const connectPreflight = await preflight(APP_ORIGIN, `/service/mcp/agents/agent-a/servers/${server.id}/connect`);
  assert.equal(connectPreflight.headers.get("access-control-allow-origin"), APP_ORIGIN);

  for (const origin of ["https://evil.example", "null", `${APP_ORIGIN}.evil.example`, "http://127.0.0.1:30000", "http://localhost:3000"]) {
    const r = await preflight(origin);
    assert.equal(r.headers.get("access-control-allow-origin"), null, origin);
    assert.equal(r.headers.get("access-control-allow-credentials"), null, origin);
  }

  // Actual responses, errors included, carry ACAO for the allowed origin only.
  const list = await w.call("/service/mcp/agents/agent-a/servers", { token: aliceA, headers: { origin: APP_ORIGIN } });
  assert.equal(list.headers.get("access-control-allow-origin"), APP_ORIGIN);
  const denied = await w.call("/service/mcp/agents/agent-a/servers", { headers: { origin: APP_ORIGIN } });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get("access-control-allow-origin"), APP_ORIGIN);
  const foreign = await w.call("/service/mcp/agents/agent-a/servers", { token: aliceA, headers: { origin: "https://evil.example" } });
  assert.equal(foreign.status, 200);
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  // The control plane and the callback are not for browsers' cross-origin calls.
  const control = await w.admin("/ai/mcp-servers", { headers: { origin: APP_ORIGIN } });
  assert.equal(control.headers.get("access-control-allow-origin"), null);
  const cb = await w.call("/service/mcp/consent/callback?state=x", { headers: { origin: APP_ORIGIN } });
  assert.equal(cb.headers.get("access-control-allow-origin"), null);
});
