// Hardening of the Worker against hostile callers and operator mistakes (issue 9 items 9 and
// 11, issue 8 §1): request bodies capped before they are read, key rules and a generic answer
// when the Worker is misconfigured, tickets carrying a key id, and the ids platforms have.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { request } from "node:http";
import { after, before, test } from "node:test";
import { ADMIN_KEY, DEV_BINDINGS, startWorker } from "./harness.mjs";
import {
  CONFIDENTIAL,
  PUBLIC,
  accessToken,
  attach,
  callback,
  code,
  consentParams,
  createServer,
  entry,
  snapshot,
  startStack,
  ticketFor,
} from "./scenario.mjs";

let s, w;

before(async () => {
  s = await startStack();
  w = s.w;
});

after(() => s?.close());

const MB = 1024 * 1024;
const CAP = 256 * 1024;

/**
 * POSTs to the Worker over a raw HTTP connection, writing the body lazily (64 KiB at a time,
 * with backpressure) until the answer arrives or `total` bytes are written. Resolves to the
 * status, the parsed answer and how many body bytes had been written when it arrived; or,
 * when the Worker closed the connection while the body was still being sent (it answered
 * without reading the rest, and the answer was lost with the connection), to
 * `{reset: true, written}`.
 */
async function rawPost(path, { headers, total, writeBody = true, timeoutMs = 20000 }) {
  const url = new URL(path, await w.mf.ready);
  const req = request(url, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, ...headers } });
  req.setMaxListeners(0);
  let written = 0;
  let answered = false;
  const response = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms (${written} bytes written)`)), timeoutMs);
    req.on("response", async (res) => {
      answered = true;
      const at = written;
      let text = "";
      for await (const chunk of res) text += chunk;
      clearTimeout(timer);
      resolve({ status: res.statusCode, json: JSON.parse(text), written: at });
    });
    req.on("error", (e) => {
      // The Worker may close the connection once it has answered: that is fine.
      if (answered) return;
      clearTimeout(timer);
      if (e.code === "ECONNRESET" || e.code === "EPIPE") resolve({ reset: true, written });
      else reject(e);
    });
  });
  req.flushHeaders();
  if (writeBody) {
    const chunk = Buffer.alloc(64 * 1024, 0x20); // whitespace: valid JSON padding
    while (!answered && written < total) {
      const ok = req.write(chunk);
      written += chunk.length;
      if (!ok) await Promise.race([once(req, "drain"), response.catch(() => {})]);
    }
    if (!answered) req.end();
  }
  try {
    return await response;
  } finally {
    req.destroy();
  }
}

test("a body announced over 256 KiB by Content-Length is refused (413) before any of it is sent", async () => {
  const before = await snapshot(w);
  // Only the headers go out: a Worker that read the body first would never answer.
  const r = await rawPost("/ai/mcp-servers", {
    headers: { "content-type": "application/json", "content-length": String(60 * MB) },
    writeBody: false,
    timeoutMs: 10000,
  });
  assert.equal(r.status, 413);
  assert.equal(r.json.errors[0].code, "body_too_large");
  assert.match(r.json.errors[0].message, /over 256 KiB/);
  assert.equal(r.written, 0);
  assert.deepEqual(await snapshot(w), before, "nothing stored");
});

test("a 60 MB body with Content-Length: 413 long before it is all sent", async () => {
  const r = await rawPost("/ai/mcp-servers", {
    headers: { "content-type": "application/json", "content-length": String(60 * MB) },
    total: 60 * MB,
  });
  // Either the 413 arrived, or the Worker closed the connection after answering: both long
  // before the 60 MB were sent. A Worker that read the whole body answers after 60 MB.
  if (!r.reset) {
    assert.equal(r.status, 413);
    assert.equal(r.json.errors[0].code, "body_too_large");
  }
  assert.ok(r.written < 8 * MB, `${r.written} bytes were sent before the answer`);
});

test("a chunked 60 MB body without Content-Length is read only up to the cap", async () => {
  const r = await rawPost("/ai/mcp-servers", {
    headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    total: 60 * MB,
  });
  // Either the 413 arrived, or the connection was closed after the answer (under load the
  // reset can overtake it): both long before the 60 MB were sent.
  if (!r.reset) {
    assert.equal(r.status, 413);
    assert.equal(r.json.errors[0].code, "body_too_large");
  }
  // The Worker stops reading at 256 KiB; what is in flight (socket buffers) is all that
  // goes out besides. A Worker that read the whole body answers after 60 MB.
  assert.ok(r.written < 8 * MB, `${r.written} bytes were sent before the answer`);
});

test("bodies up to the cap are read, chunked or not; one byte over is refused", async () => {
  const padded = (n) => Buffer.from(`${" ".repeat(n - 2)}{}`); // a JSON object of exactly n bytes
  const post = async (body, headers) => {
    const url = new URL("/ai/mcp-servers", await w.mf.ready);
    const req = request(url, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json", ...headers } });
    // Two writes, so that a chunked body really comes in more than one chunk.
    req.write(body.subarray(0, 1000));
    req.end(body.subarray(1000));
    const [res] = await once(req, "response");
    let text = "";
    for await (const c of res) text += c;
    return { status: res.statusCode, json: JSON.parse(text) };
  };
  // Exactly 256 KiB is read and judged ({} is not a valid server body), with or without a length.
  for (const headers of [{ "content-length": String(CAP) }, { "transfer-encoding": "chunked" }]) {
    const r = await post(padded(CAP), headers);
    assert.equal(r.status, 400, JSON.stringify(headers));
    assert.equal(r.json.errors[0].code, "invalid_request");
  }
  // One byte more: by its length, before reading; chunked, once the cap is passed.
  const byLength = await rawPost("/ai/mcp-servers", { headers: { "content-length": String(CAP + 1) }, writeBody: false });
  assert.equal(byLength.status, 413);
  const chunked = await post(padded(CAP + 1), { "transfer-encoding": "chunked" });
  assert.equal(chunked.status, 413);
  assert.equal(chunked.json.errors[0].code, "body_too_large");
});

// ---- keys -------------------------------------------------------------------------------

const LONG = "k".repeat(40);

for (const [label, bindings, detail] of [
  ["an ADMIN_API_KEY under 32 characters", { ADMIN_API_KEY: "short-admin-key-0123456789" }, /ADMIN_API_KEY must be at least 32 characters/],
  ["a TICKET_KEY under 32 bytes", { TICKET_KEY: "short-ticket-key-0123456789" }, /TICKET_KEY must be at least 32 bytes/],
  ["the same value for both keys", { ADMIN_API_KEY: LONG, TICKET_KEY: LONG }, /TICKET_KEY and ADMIN_API_KEY must be different/],
]) {
  test(`${label}: a generic 500 misconfigured to callers, the detail in the log`, async () => {
    const bad = await startWorker({ bindings });
    try {
      for (const headers of [{}, { authorization: `Bearer ${bindings.ADMIN_API_KEY ?? ADMIN_KEY}` }]) {
        for (const path of ["/ai/mcp-servers", "/service/mcp/agents/a/servers", "/service/mcp/consent/callback"]) {
          const r = await bad.call(path, { headers });
          assert.equal(r.status, 500, `${path}: ${r.text}`);
          assert.equal(code(r), "misconfigured");
          assert.equal(r.json.errors[0].message, "The Worker is misconfigured: its operator should check the Worker's logs.");
          assert.doesNotMatch(r.text, /ADMIN_API_KEY|TICKET_KEY|SEAL_KEY/);
        }
      }
      await new Promise((r) => setTimeout(r, 200)); // the log lines arrive asynchronously
      const logs = bad.logs.join("");
      assert.match(logs, detail);
      for (const value of Object.values(bindings)) assert.ok(!logs.includes(value), "no key value in the log");
    } finally {
      await bad.close();
    }
  });
}

const kidOf = (key) => createHash("sha256").update(`mcp-authlink ticket key id\n${key}`).digest("base64url").slice(0, 8);

test("tickets carry the key id of TICKET_KEY; after a rotation the old tickets are refused", async () => {
  const ticket = await ticketFor(w, "rita", ["agent-r"]);
  const [version, kid] = ticket.split(".");
  assert.equal(version, "v2");
  assert.equal(kid, kidOf(DEV_BINDINGS.TICKET_KEY));
  assert.equal((await w.call("/service/mcp/agents/agent-r/servers", { token: ticket })).status, 200);

  const rotated = await startWorker({ bindings: { TICKET_KEY: "rotated-ticket-key-0123456789abcdef0123" } });
  try {
    const old = await rotated.call("/service/mcp/agents/agent-r/servers", { token: ticket });
    assert.equal(old.status, 401, old.text);
    assert.equal(code(old), "invalid_ticket");
    const fresh = await ticketFor(rotated, "rita", ["agent-r"]);
    assert.equal(fresh.split(".")[1], kidOf("rotated-ticket-key-0123456789abcdef0123"));
    assert.equal((await rotated.call("/service/mcp/agents/agent-r/servers", { token: fresh })).status, 200);
  } finally {
    await rotated.close();
  }
});

// ---- the ids platforms have -------------------------------------------------------------

const enc = encodeURIComponent;

test("actor and agent ids such as alice@example.com and auth0|65f0c1: ticket, list, connect, consent, token", async () => {
  const actor = "alice@example.com";
  const agents = ["auth0|65f0c1", "support bot/é 1"];
  const server = await createServer(w, "ids", { endpoint: s.endpoint, auth: { type: PUBLIC } });
  for (const agent of agents) await attach(w, enc(agent), server.id);
  const listed = await w.admin(`/ai/agents/${enc(agents[1])}/mcp-servers`);
  assert.deepEqual(listed.json.items.map((i) => i.id), [server.id]);

  const ticket = await ticketFor(w, actor, agents);
  const claims = JSON.parse(Buffer.from(ticket.split(".")[2], "base64url").toString("utf8"));
  assert.equal(claims.actor_id, actor);
  assert.deepEqual(claims.agent_ids, agents);

  assert.equal((await entry(w, ticket, enc(agents[0]), server.id)).connection_status, "not_connected");
  const cb = await callback(w, await consentParams(w, ticket, enc(agents[0]), server.id));
  assert.equal(cb.status, 200, cb.text);
  // The connection is the person's: every agent of theirs sees it.
  for (const agent of agents) {
    assert.equal((await entry(w, ticket, enc(agent), server.id)).connection_status, "connected", agent);
  }
  const row = await w.db.prepare("SELECT actor_id FROM connections WHERE server_id = ?").bind(server.id).first();
  assert.equal(row.actor_id, actor, "stored as given");
  const t = await accessToken(w, enc(agents[0]), server.id, actor);
  assert.equal(t.status, 200, t.text);
  assert.ok(t.json.access_token);
  // Another person's id that merely looks alike has no connection.
  const other = await accessToken(w, enc(agents[0]), server.id, "Alice@example.com");
  assert.equal(other.status, 409, other.text);
  assert.equal(code(other), "not_connected");
  const out = await w.call(`/service/mcp/agents/${enc(agents[0])}/servers/${server.id}/disconnect`, { method: "POST", token: ticket });
  assert.equal(out.status, 204, out.text);
});

test("ids: quotes and SQL are data; control characters, 256 characters and non-UTF-8 are refused with the field named", async () => {
  const quoted = `o'brien"; DROP TABLE connections; --`;
  const ok = await w.admin("/ai/session-tickets", { method: "POST", body: { actor_id: quoted, agent_ids: ["x".repeat(255)] } });
  assert.equal(ok.status, 201, ok.text);
  const before = await snapshot(w);
  for (const [body, path] of [
    [{ actor_id: "alice\n", agent_ids: ["a"] }, "actor_id"],
    [{ actor_id: "alice\u0000", agent_ids: ["a"] }, "actor_id"],
    [{ actor_id: "\u001b[31mred", agent_ids: ["a"] }, "actor_id"],
    [{ actor_id: "x".repeat(256), agent_ids: ["a"] }, "actor_id"],
    [{ actor_id: "alice", agent_ids: ["a", "b\u007f"] }, "agent_ids[1]"],
    [{ actor_id: "alice", agent_ids: Array(40).fill("€".repeat(255)) }, "agent_ids"],
  ]) {
    const r = await w.admin("/ai/session-tickets", { method: "POST", body });
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.equal(r.json.errors[0].path, path, r.text);
  }
  const big = await w.admin("/ai/session-tickets", { method: "POST", body: { actor_id: "alice", agent_ids: Array(40).fill("€".repeat(255)) } });
  assert.match(big.json.errors[0].message, /name fewer agents or use shorter ids/);
  const ctl = await w.admin("/ai/agents/agent%0Ax/mcp-servers");
  assert.equal(ctl.status, 400, ctl.text);
  assert.equal(ctl.json.errors[0].path, "agent_id");
  assert.match(ctl.json.errors[0].message, /1 to 255 characters with no control characters/);
  const notUtf8 = await w.admin("/ai/agents/agent%FF/mcp-servers");
  assert.equal(notUtf8.status, 400, notUtf8.text);
  assert.match(notUtf8.json.errors[0].message, /not UTF-8/);
  // Server ids stay what the Worker generates.
  const server = await w.admin(`/ai/mcp-servers/${enc("srv@x")}`);
  assert.equal(server.status, 400, server.text);
  assert.equal(server.json.errors[0].path, "id");
  assert.deepEqual(await snapshot(w), before, "nothing stored");
});

// ---- URLs found by discovery (issue 9 item 2) -----------------------------------------------

test("create refuses a provider whose metadata names URLs a config could not hold, before registering", async () => {
  const p = await startStack({ proxy: true });
  try {
    p.proxy.program({
      path: /^\/\.well-known\/(oauth-authorization-server|openid-configuration)/,
      transform: (json) => ({
        ...json,
        registration_endpoint: "http://registrar.example/reg",
        token_endpoint: json.token_endpoint?.replace("://", "://user:pw@"),
      }),
    });
    const before = await snapshot(p.w);
    const r = await p.w.admin("/ai/mcp-servers", {
      method: "POST",
      body: { name: "odd-metadata", config: { endpoint: p.endpoint, auth: { type: CONFIDENTIAL } } },
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(code(r), "invalid_request");
    const byPath = Object.fromEntries(r.json.errors.slice(1).map((e) => [e.path, e]));
    assert.equal(byPath["config.auth.register_url"]?.code, "insecure_url", r.text);
    assert.equal(byPath["config.auth.token_url"]?.code, "invalid_value", r.text);
    assert.match(byPath["config.auth.token_url"].message, /user:password@.*discovery found this URL/);
    assert.ok(r.json.discovery_result, "the discovery result comes with the refusal");
    // Only discovery's requests went out (the probe and metadata): no registration, no token.
    for (const x of p.proxy.exchanges) assert.match(x.path, /^\/mcp$|^\/\.well-known\//, `${x.method} ${x.path}`);
    assert.deepEqual(await snapshot(p.w), before, "nothing stored");
  } finally {
    await p.close();
  }
});
