// The Worker under load: the built Worker (make worker: build/worker) in workerd through
// miniflare, listening on a loopback HTTP port, with its D1, the real peers (oidc-provider and
// the MCP SDK server), and a load generator in a second Node process (undici, keep-alive
// connections, closed loop). Methodology: bench/README.md.
//
//   node bench/load.mjs            (or `make bench`)
//   BENCH_LOAD_SECONDS=3 BENCH_LOAD_ROUNDS=3 BENCH_LOAD_MAX_REQUESTS=20000
//   BENCH_LOAD_CONCURRENCY=1,32 BENCH_LOAD_FLOWS=200   (defaults)
//
// Each route runs at each concurrency for BENCH_LOAD_SECONDS or BENCH_LOAD_MAX_REQUESTS
// requests, whichever comes first (the consent callback with fresh flows: until its
// BENCH_LOAD_FLOWS pre-created flows are used up, or the time), in BENCH_LOAD_ROUNDS rounds;
// the table shows the median of the rounds. Exits 1 when any response is a 5xx, another status
// than the route's expected one, or a connection error.
//
// Prints a Markdown table; writes build/bench-load.json.
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// ---- the load generator (the child process) ------------------------------------------------

/**
 * Runs phases on request of the parent, over IPC. A phase: `concurrency` callers, each sending
 * its next request as soon as its previous answer's body has been read, on a pool of
 * `concurrency` keep-alive connections, until `durationMs` has passed, `maxRequests` were
 * sent, or (without `cycle`) every request of `specs` was sent once.
 */
async function client() {
  const { Pool } = await import("undici");
  process.on("message", async (job) => {
    const pool = new Pool(job.base, { connections: job.concurrency, pipelining: 1 });
    try {
      // Warm-up: open the connections (not measured; a route that touches no D1).
      await Promise.all(
        Array.from({ length: job.concurrency * 2 }, () => send(pool, job.warmup).then(({ res }) => res.body.text())),
      );
      process.send({ id: job.id, result: await phase(pool, job) });
    } catch (e) {
      process.send({ id: job.id, error: String(e?.stack ?? e) });
    } finally {
      await pool.close();
    }
  });
  process.on("disconnect", () => process.exit(0));
}

function send(pool, spec) {
  const path = spec.path.replace("{random}", () => randomBytes(32).toString("base64url"));
  return pool
    .request({ path, method: spec.method, headers: spec.headers, body: spec.body })
    .then((res) => ({ res }));
}

async function phase(pool, job) {
  const { specs, cycle, concurrency, durationMs, maxRequests, expect } = job;
  const latencies = [];
  const statuses = {};
  const unexpected = [];
  let errors = 0;
  let badBodies = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const take = () => {
    if (performance.now() >= deadline || next >= maxRequests) return undefined;
    if (!cycle && next >= specs.length) return undefined;
    return specs[next++ % specs.length];
  };
  async function caller() {
    for (let spec = take(); spec; spec = take()) {
      const t0 = performance.now();
      try {
        const { res } = await send(pool, spec);
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        const bad = res.statusCode === expect.status && expect.includes && !text.includes(expect.includes);
        if (bad) badBodies += 1;
        if ((bad || res.statusCode !== expect.status) && unexpected.length < 5) unexpected.push({ status: res.statusCode, body: text.slice(0, 300) });
      } catch (e) {
        errors += 1;
        if (unexpected.length < 5) unexpected.push({ error: String(e?.message ?? e) });
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, caller));
  const elapsedMs = performance.now() - start;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.max(0, Math.ceil(p * latencies.length) - 1)] : NaN);
  const fivexx = Object.entries(statuses).reduce((n, [s, c]) => n + (Number(s) >= 500 ? c : 0), 0);
  const wrong = Object.entries(statuses).reduce((n, [s, c]) => n + (Number(s) !== expect.status ? c : 0), 0);
  return {
    requests: latencies.length + errors,
    elapsedMs,
    rps: latencies.length / (elapsedMs / 1000),
    p50: pct(0.5),
    p99: pct(0.99),
    max: latencies.at(-1) ?? NaN,
    statuses,
    fivexx,
    unexpectedStatus: wrong,
    badBodies,
    errors,
    unexpected,
  };
}

// ---- the parent: peers, Worker, state, phases, table ---------------------------------------

function settings() {
  const int = (name, dflt, min) => {
    const v = Number(process.env[name] ?? dflt);
    if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}`);
    return v;
  };
  const concurrency = String(process.env.BENCH_LOAD_CONCURRENCY ?? "1,32")
    .split(",")
    .map(Number);
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 256)) {
    throw new Error("BENCH_LOAD_CONCURRENCY must be a comma-separated list of integers 1..256");
  }
  return {
    seconds: int("BENCH_LOAD_SECONDS", 3, 1),
    rounds: int("BENCH_LOAD_ROUNDS", 3, 1),
    maxRequests: int("BENCH_LOAD_MAX_REQUESTS", 20000, 1),
    flows: int("BENCH_LOAD_FLOWS", 200, 1),
    concurrency,
  };
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const opts = settings();
  const { startAuthServer, authorizeByHttp } = await import("../tests/peers/auth-server.mjs");
  const { startMcpServer } = await import("../tests/peers/mcp-server.mjs");
  const { ADMIN_KEY, DEV_BINDINGS, startWorker } = await import("../tests/worker/harness.mjs");
  const APP_ORIGIN = DEV_BINDINGS.ALLOWED_RETURN_ORIGINS.split(",")[0].trim();
  const PUBLIC_ORIGIN = DEV_BINDINGS.PUBLIC_ORIGIN;
  const AGENT = "bench-agent";
  const STATIC_TOKEN = "sk-bench-static-token-0123456789";
  const CALLBACK = "/service/mcp/consent/callback";

  // oidc-provider's access tokens live an hour here, so the user connection's access-token
  // answers are its cached token (no refresh happens in the timed phases).
  const as = await startAuthServer({ accessTokenTtl: 3600 });
  const mcp = await startMcpServer({ issuer: as.issuer });
  const w = await startWorker();
  const gen = fork(fileURLToPath(import.meta.url), ["--client"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const close = async () => {
    gen.connected && gen.disconnect();
    await w.close();
    await mcp.close();
    await as.close();
  };
  try {
    // miniflare's entry socket: a real HTTP listener of workerd on a loopback port.
    const base = new URL(await w.mf.ready).origin;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, `workerd listens on ${base}`);

    /** A request to the Worker over its HTTP port; JSON in and out. */
    async function api(path, { method = "GET", body, token, headers = {} } = {}) {
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      if (body !== undefined) h["content-type"] = "application/json";
      const res = await fetch(`${base}${path}`, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: "manual",
      });
      const text = await res.text();
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {}
      return { status: res.status, headers: res.headers, text, json };
    }
    const admin = (path, init = {}) => api(path, { ...init, token: ADMIN_KEY });
    const ticketFor = async (actor) => {
      const r = await admin("/ai/session-tickets", { method: "POST", body: { actor_id: actor, agent_ids: [AGENT] } });
      assert.equal(r.status, 201, r.text);
      return r.json.ticket;
    };
    const createServer = async (name, auth) => {
      const r = await admin("/ai/mcp-servers", { method: "POST", body: { name, config: { endpoint: mcp.endpoint, auth } } });
      assert.equal(r.status, 201, r.text);
      const id = r.json.server.id;
      const a = await admin(`/ai/agents/${AGENT}/mcp-servers/${id}/attach`, { method: "POST" });
      assert.equal(a.status, 204, a.text);
      return id;
    };

    // ---- state, through the real API ----
    const tokenId = await createServer("bench-token", { type: "token", auth_token: STATIC_TOKEN });
    const oauthId = await createServer("bench-oauth", { type: "oauth_authorization_code_confidential_pkce" });

    let consentStep = "connect answered oauth_url: no consent start, no binding cookie";
    /**
     * A pending consent flow of `actor`, up to the provider's redirect back: connect, (when
     * connect answers a consent form) the form's POST with the app's Origin and its binding
     * cookie, the login and consent at the provider. Returns the callback request that would
     * finish it.
     */
    async function pendingFlow(actor) {
      const ticket = await ticketFor(actor);
      const c = await api(`/service/mcp/agents/${AGENT}/servers/${oauthId}/connect`, { method: "POST", token: ticket, body: {} });
      assert.equal(c.status, 200, c.text);
      assert.equal(c.json.requires_oauth, true, c.text);
      let providerUrl = c.json.oauth_url;
      const headers = {};
      if (c.json.consent) {
        // The consent step: the browser POSTs the fields to consent.url from the app's page.
        const { url, method = "POST", fields = {} } = c.json.consent;
        const target = new URL(url, PUBLIC_ORIGIN);
        const form = await fetch(`${base}${target.pathname}${target.search}`, {
          method,
          headers: { origin: APP_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(fields).toString(),
          redirect: "manual",
        });
        const formText = await form.text();
        assert.equal(form.status, 303, formText);
        providerUrl = form.headers.get("location");
        const cookies = form.headers.getSetCookie().map((s) => s.split(";")[0]);
        assert.ok(cookies.length > 0, "the consent POST sets its binding cookie");
        headers.cookie = cookies.join("; ");
        consentStep = "connect answered consent {url, fields}: POST consent.url with the app's Origin, binding cookie sent on the callback";
      }
      assert.ok(providerUrl, c.text);
      const back = new URL(await authorizeByHttp(providerUrl));
      assert.equal(`${back.origin}${back.pathname}`, `${PUBLIC_ORIGIN}${CALLBACK}`);
      return { method: "GET", path: `${back.pathname}${back.search}`, headers };
    }

    /** `n` pending flows, 8 at a time, each for an actor of its own. */
    let flowSerial = 0;
    async function pendingFlows(n) {
      const out = [];
      let i = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (i < n) {
            i += 1;
            out.push(await pendingFlow(`bench-flow-${++flowSerial}`));
          }
        }),
      );
      return out;
    }

    // The user connection the access-token route reads: one consent, through the callback.
    const aliceTicket = await ticketFor("alice");
    const first = await pendingFlow("alice");
    const done = await fetch(`${base}${first.path}`, { headers: first.headers, redirect: "manual" });
    const doneText = await done.text();
    assert.equal(done.status, 200, doneText);
    assert.match(doneText, /Connected/);
    const list = await api(`/service/mcp/agents/${AGENT}/servers`, { token: aliceTicket });
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.items.find((i) => i.id === oauthId)?.connection_status, "connected", list.text);
    const t = await admin(`/ai/agents/${AGENT}/mcp-servers/${oauthId}/access-token`, { method: "POST", body: { actor_id: "alice" } });
    assert.equal(t.status, 200, t.text);
    const aliceToken = t.json.access_token;

    // ---- the routes ----
    const preflight = {
      method: "OPTIONS",
      path: `/service/mcp/agents/${AGENT}/servers`,
      headers: { origin: APP_ORIGIN, "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    };
    const accessToken = (id) => ({
      method: "POST",
      path: `/ai/agents/${AGENT}/mcp-servers/${id}/access-token`,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ actor_id: "alice" }),
    });
    const routes = [
      {
        name: "preflight `OPTIONS /service/mcp/agents/{agent}/servers` (no D1)",
        key: "preflight",
        d1: false,
        specs: () => [preflight],
        expect: { status: 204 },
      },
      {
        name: "access-token, token mode",
        key: "access-token-static",
        specs: () => [accessToken(tokenId)],
        expect: { status: 200, includes: STATIC_TOKEN },
      },
      {
        name: "access-token, user OAuth connection",
        key: "access-token-oauth",
        specs: () => [accessToken(oauthId)],
        expect: { status: 200, includes: aliceToken },
      },
      {
        name: "runtime list `GET /service/mcp/agents/{agent}/servers` (ticket)",
        key: "runtime-list",
        specs: () => [{ method: "GET", path: `/service/mcp/agents/${AGENT}/servers`, headers: { authorization: `Bearer ${aliceTicket}` } }],
        expect: { status: 200, includes: oauthId },
      },
      {
        name: "consent callback, unknown state (400 page)",
        key: "callback-unknown-state",
        specs: () => [
          {
            method: "GET",
            path: `${CALLBACK}?code=bench-code&state={random}&iss=${encodeURIComponent(as.issuer)}`,
            headers: {},
          },
        ],
        expect: { status: 400, includes: "invalid_state" },
      },
      {
        name: "consent callback, fresh flow (code exchange, connected)",
        key: "callback-fresh-flow",
        fresh: true,
        specs: () => pendingFlows(opts.flows),
        expect: { status: 200, includes: "Connected" },
      },
    ];

    // ---- the timed phases ----
    let jobId = 0;
    const pending = new Map();
    gen.on("message", (m) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    gen.on("exit", (code) => {
      for (const p of pending.values()) p.reject(new Error(`the load generator exited (${code})`));
    });
    const run = (job) =>
      new Promise((resolve, reject) => {
        const id = ++jobId;
        pending.set(id, { resolve, reject });
        gen.send({ ...job, id, base, warmup: preflight });
      });

    console.log(`Consent flows: ${consentStep}.`);
    const loadBefore = loadavg();
    console.log(
      `Load: workerd at ${base}; ${cpus().length} cores, load average ${loadBefore.map((l) => l.toFixed(1)).join(" ")}; ` +
        `${opts.rounds} rounds x ${routes.length} routes x ${opts.concurrency.join("/")} callers, ` +
        `${opts.seconds} s or ${opts.maxRequests} requests per phase (fresh consent flows: ${opts.flows} per phase).`,
    );
    // A first pass at 1 caller for one second per route (not recorded): JIT, wasm, D1 pages.
    // Its answers are judged like the others: a 5xx there fails the run too.
    const warmups = [];
    for (const route of routes.filter((r) => !r.fresh)) {
      const r = await run({ specs: route.specs(), cycle: true, concurrency: 1, durationMs: 1000, maxRequests: opts.maxRequests, expect: route.expect });
      warmups.push({ key: `${route.key} (warm-up)`, concurrency: 1, ...r });
      for (const u of r.unexpected) console.log(`  warm-up ${route.key}: unexpected: ${JSON.stringify(u)}`);
    }

    const results = {};
    for (let round = 1; round <= opts.rounds; round++) {
      for (const route of routes) {
        for (const concurrency of opts.concurrency) {
          let specs;
          let prepMs = 0;
          if (route.fresh) {
            const t0 = performance.now();
            specs = await route.specs();
            prepMs = performance.now() - t0;
          } else {
            specs = route.specs();
          }
          const r = await run({
            specs,
            cycle: !route.fresh,
            concurrency,
            durationMs: opts.seconds * 1000,
            maxRequests: opts.maxRequests,
            expect: route.expect,
          });
          r.prepMs = prepMs;
          (results[`${route.key}@${concurrency}`] ??= []).push(r);
          const flag = r.fivexx || r.unexpectedStatus || r.errors || r.badBodies ? "  <-- FAILURES" : "";
          console.log(
            `  round ${round} ${route.key} x${concurrency}: ${r.requests} requests in ${(r.elapsedMs / 1000).toFixed(2)} s, ` +
              `${r.rps.toFixed(0)}/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, statuses ${JSON.stringify(r.statuses)}` +
              (route.fresh ? ` (flows prepared in ${(prepMs / 1000).toFixed(1)} s)` : "") +
              flag,
          );
          for (const u of r.unexpected) console.log(`    unexpected: ${JSON.stringify(u)}`);
        }
      }
    }

    // ---- the table ----
    const rows = [];
    for (const route of routes) {
      for (const concurrency of opts.concurrency) {
        const rs = results[`${route.key}@${concurrency}`];
        rows.push({
          route: route.name,
          key: route.key,
          d1: route.d1 !== false,
          concurrency,
          rps: median(rs.map((r) => r.rps)),
          p50: median(rs.map((r) => r.p50)),
          p99: median(rs.map((r) => r.p99)),
          fivexx: rs.reduce((n, r) => n + r.fivexx, 0),
          unexpectedStatus: rs.reduce((n, r) => n + r.unexpectedStatus, 0),
          badBodies: rs.reduce((n, r) => n + r.badBodies, 0),
          errors: rs.reduce((n, r) => n + r.errors, 0),
          requests: rs.reduce((n, r) => n + r.requests, 0),
          rounds: rs,
        });
      }
    }
    const loadAfter = loadavg();
    console.log(
      `\nMedian of ${opts.rounds} rounds per row (rps, p50, p99); 5xx and requests summed over the rounds. ` +
        `Load average (1 min) ${loadBefore[0].toFixed(1)} before, ${loadAfter[0].toFixed(1)} after, on ${cpus().length} cores: ` +
        "compare rows of the same run.\n",
    );
    console.log("| route | callers | req/s | p50 ms | p99 ms | 5xx | requests |");
    console.log("|---|---:|---:|---:|---:|---:|---:|");
    for (const r of rows) {
      console.log(
        `| ${r.route} | ${r.concurrency} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.fivexx} | ${r.requests} |`,
      );
    }
    // What the Worker logged as errors or warnings during the whole run (shown, not judged).
    const workerErrors = w.logs.join("").split("\n").filter((l) => /error|warn|panick/i.test(l));
    console.log(`\nThe Worker logged ${workerErrors.length} error or warning lines.`);
    for (const l of workerErrors.slice(0, 5)) console.log(`  ${l.slice(0, 300)}`);
    mkdirSync(join(root, "build"), { recursive: true });
    const out = join(root, "build", "bench-load.json");
    writeFileSync(
      out,
      JSON.stringify(
        { date: new Date().toISOString(), node: process.version, cores: cpus().length, loadBefore, loadAfter, settings: opts, consentStep, workerErrors, rows },
        null,
        2,
      ),
    );
    console.log(`\nwrote ${out}`);

    const failed = [...warmups, ...rows].filter((r) => r.fivexx || r.unexpectedStatus || r.errors || r.badBodies);
    if (failed.length) {
      for (const r of failed) {
        console.error(
          `FAIL ${r.key} x${r.concurrency}: ${r.fivexx} 5xx, ${r.unexpectedStatus} unexpected statuses (5xx included), ` +
            `${r.badBodies} unexpected bodies, ${r.errors} connection errors`,
        );
      }
      process.exitCode = 1;
    } else {
      console.log("PASS: no 5xx, every answer the expected status and body.");
    }
  } finally {
    await close();
  }
}

if (process.argv[2] === "--client") {
  await client();
} else {
  await main();
}
