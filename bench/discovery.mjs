// Discovery wall time: mcp-authlink's `discover` against @modelcontextprotocol/sdk's own
// discovery, on every discovery fixture that does not expect an error, through the fixture
// replay fetch with a fixed latency added to every request. Methodology: bench/README.md.
//
//   node bench/discovery.mjs            (or `make bench`)
//   BENCH_LATENCY_MS=50 BENCH_RUNS=5    (defaults)
//
// Prints a Markdown table and a summary; writes build/bench-discovery.json.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { discover } from "mcp-authlink";
import { discoverOAuthServerInfo, extractWWWAuthenticateParams } from "@modelcontextprotocol/sdk/client/auth.js";
import { fetchWithinOrigin } from "@modelcontextprotocol/sdk/shared/transport.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

import * as replay from "../tests/node/replay.mjs";

// replayFetch lives in tests/node/replay.mjs; discoveryFixtures() is there or, in newer trees, in
// tests/node/fixtures.mjs (replay.mjs is kept free of Node-only imports).
const { replayFetch } = replay;
const discoveryFixtures =
  replay.discoveryFixtures ?? (await import("../tests/node/fixtures.mjs")).discoveryFixtures;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const OUT = join(root, "build", "bench-discovery.json");
// Our discover bounds each request (8 s by default); the SDK's discovery does not, so a request
// that never answers would stall it forever: a run is cut off here and reported as hung.
const RUN_TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? 30_000);
const HUNG = "no answer after";

/** The version of an installed package, from the package.json above its resolved entry. */
function versionOf(name) {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  for (;;) {
    try {
      const pj = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (pj.name === name) return pj.version;
    } catch {}
    if (dirname(dir) === dir) return "unknown";
    dir = dirname(dir);
  }
}
const sdkVersion = versionOf("@modelcontextprotocol/sdk");
const ourVersion = versionOf("mcp-authlink");

// ---- the two implementations -------------------------------------------------------------

/**
 * mcp-authlink: one call; it sends the probe and the metadata requests itself. A fixture's
 * `allow_issuer_mismatch` (the operator's server-config choice) is passed on, as the tests do.
 */
async function ours(fixture, fetch) {
  const result = await discover(fixture.endpoint, { fetch, allowIssuerMismatch: fixture.allow_issuer_mismatch === true, blockPrivate: false });
  return { token: result.token_url ?? null, requiresAuth: result.requires_auth, trace: result.trace.length };
}

/**
 * The SDK, as its client does it: the Streamable HTTP transport POSTs `initialize` through
 * `fetchWithinOrigin` (the SDK's own wrapper: redirects followed within the origin only); on a 401 (or
 * a 403 with `error="insufficient_scope"`) it reads the challenge with
 * `extractWWWAuthenticateParams` and runs discovery (`discoverOAuthServerInfo` is the SDK's
 * public form of the discovery part of `auth()`: PRM, then authorization server metadata).
 * On another 4xx, the SDK's documented backwards-compatible client
 * (streamableHttpWithSseFallbackClient) falls back to the legacy SSE transport, whose
 * EventSource GETs the endpoint with `Accept: text/event-stream` and reads the challenge the
 * same way. Any other status makes the SDK's transport throw: reported as an SDK error.
 */
async function sdk(fixture, fetchFn) {
  const endpoint = fixture.endpoint;
  const transportFetch = fetchWithinOrigin(fetchFn);
  let res = await transportFetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: "bench", version: "0" },
      },
    }),
  });
  await res.body?.cancel();
  let via = "POST";
  if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403) {
    // streamableHttpWithSseFallbackClient: Streamable HTTP failed with a 4xx, try legacy SSE.
    res = await transportFetch(endpoint, { method: "GET", headers: { accept: "text/event-stream" } });
    await res.body?.cancel();
    via = "GET (SSE fallback)";
  }
  if (res.ok) return { token: null, requiresAuth: false };
  const params = extractWWWAuthenticateParams(res);
  const challenged =
    res.status === 401 || (via === "POST" && res.status === 403 && params.error === "insufficient_scope");
  if (!challenged) {
    throw new Error(`${via} answered ${res.status}: the SDK transport throws, no auth discovery`);
  }
  const info = await discoverOAuthServerInfo(endpoint, { resourceMetadataUrl: params.resourceMetadataUrl, fetchFn });
  return { token: info.authorizationServerMetadata?.token_endpoint ?? null, requiresAuth: true };
}

const impls = { ours, sdk };

/** One timed run of one implementation on one fixture, through a fresh replay fetch. */
async function run(name, fixture, latencyMs) {
  const { fetch, calls } = replayFetch(fixture, { latencyMs });
  const t0 = performance.now();
  let timer;
  try {
    // A run that never settles is reported as an error, not waited for forever.
    const watchdog = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${HUNG} ${RUN_TIMEOUT_MS} ms (hung)`)), RUN_TIMEOUT_MS);
    });
    const out = await Promise.race([impls[name](fixture, fetch), watchdog]);
    const ms = performance.now() - t0;
    return { ms, requests: calls.length, calls: [...calls], token: out.token, requiresAuth: out.requiresAuth, trace: out.trace, error: null };
  } catch (e) {
    const ms = performance.now() - t0;
    return { ms, requests: calls.length, calls: [...calls], token: null, requiresAuth: null, error: describe(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** One line for an error; a ZodError (the SDK's metadata schemas) names the fields at fault. */
function describe(e) {
  if (Array.isArray(e?.issues)) {
    const fields = e.issues.map((i) => (i.path ?? []).join(".") || "(root)");
    return `ZodError: metadata schema rejects the document (${[...new Set(fields)].join(", ")})`;
  }
  return `${e?.name ?? "Error"}${e?.code ? ` (${e.code})` : ""}: ${String(e?.message ?? e).split("\n")[0]}`;
}

// ---- measuring -----------------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const uniq = (xs) => [...new Set(xs.map((x) => JSON.stringify(x)))].map((x) => JSON.parse(x));

/** Collapses the runs of one implementation: median time, and the (normally constant) rest. */
function summarise(runs) {
  const tokens = uniq(runs.map((r) => r.token));
  const errors = uniq(runs.map((r) => r.error).filter(Boolean));
  const requests = runs.map((r) => r.requests);
  return {
    median_ms: median(runs.map((r) => r.ms)),
    runs_ms: runs.map((r) => Math.round(r.ms * 100) / 100),
    token_endpoint: tokens.length === 1 ? tokens[0] : null,
    token_endpoint_stable: tokens.length === 1,
    requests: median(requests),
    requests_min: Math.min(...requests),
    requests_max: Math.max(...requests),
    error: errors.length ? errors.join(" | ") : null,
    hung: errors.some((e) => e.includes(HUNG)),
    // ours: the result's trace must list exactly the requests that reached fetch
    trace_matches_requests: runs.every((r) => r.trace === undefined || r.trace === r.requests),
    last_run_requests: runs.at(-1).calls.map(([method, url]) => `${method} ${url}`),
  };
}

const fixtures = discoveryFixtures().filter((f) => !f.expect_error);
const skipped = discoveryFixtures().filter((f) => f.expect_error).map((f) => f.name ?? basename(f.file, ".json"));

// Warm-up: each implementation once on every case (no latency), so that both have compiled
// every code path (and the wasm module is instantiated) before anything is timed.
// A case on which an implementation hangs in warm-up is not timed again for it: the hang is
// reported instead (each timed run would only wait for the watchdog).
const hungInWarmup = { ours: new Map(), sdk: new Map() };
for (const f of fixtures) {
  for (const name of ["ours", "sdk"]) {
    const r = await run(name, f, 0);
    if (r.error?.includes(HUNG)) hungInWarmup[name].set(f, r);
  }
}

const cases = [];
for (const f of fixtures) {
  process.stderr.write(`measuring ${f.name ?? basename(f.file, ".json")}\n`);
  const runs = { ours: [], sdk: [] };
  for (let i = 0; i < RUNS; i++) {
    // Alternate run by run, swapping which goes first, so both see the same drift and noise.
    const order = i % 2 === 0 ? ["ours", "sdk"] : ["sdk", "ours"];
    for (const name of order) {
      runs[name].push(hungInWarmup[name].get(f) ?? (await run(name, f, LATENCY_MS)));
    }
  }
  const o = summarise(runs.ours);
  const s = summarise(runs.sdk);
  const same = !o.error && !s.error && o.token_endpoint_stable && s.token_endpoint_stable && o.token_endpoint === s.token_endpoint;
  cases.push({
    case: f.name ?? basename(f.file, ".json"),
    endpoint: f.endpoint,
    ours: o,
    sdk: s,
    // No ratio against a run cut off by the watchdog: its time is the watchdog's.
    ratio: o.hung || s.hung ? null : o.median_ms / s.median_ms,
    same_token_endpoint: same,
    in_mean: same && o.token_endpoint !== null,
  });
}

// ---- report --------------------------------------------------------------------------------

const fmtMs = (x) => x.toFixed(1);
const fmtReq = (c) => (c.requests_min === c.requests_max ? String(c.requests) : `${c.requests_min}–${c.requests_max}`);
const esc = (s) => String(s).replaceAll("|", "\\|");

const lines = [];
lines.push(
  `Discovery wall time, ${LATENCY_MS} ms added per request, median of ${RUNS} alternating runs ` +
    `(mcp-authlink ${ourVersion} vs @modelcontextprotocol/sdk ${sdkVersion}, Node ${process.versions.node})`,
);
lines.push("");
lines.push("| case | ours ms | SDK ms | ratio | our requests | SDK requests | same token endpoint? |");
lines.push("|---|---:|---:|---:|---:|---:|---|");
for (const c of cases) {
  const cell = (x) =>
    x.hung ? `> ${RUN_TIMEOUT_MS} (error: ${esc(x.error)})` : x.error ? `${fmtMs(x.median_ms)} (error: ${esc(x.error)})` : fmtMs(x.median_ms);
  const sdkMs = cell(c.sdk);
  const ourMs = cell(c.ours);
  let same;
  if (c.sdk.error || c.ours.error) same = "n/a (error)";
  else if (c.same_token_endpoint) same = c.ours.token_endpoint === null ? "yes (both none)" : "yes";
  else same = "no";
  lines.push(
    `| ${c.case} | ${ourMs} | ${sdkMs} | ${c.ratio === null ? "n/a" : c.ratio.toFixed(2)} | ${fmtReq(c.ours)} | ${fmtReq(c.sdk)} | ${same} |`,
  );
}

const agreeing = cases.filter((c) => c.in_mean);
const geomean = agreeing.length ? Math.exp(agreeing.reduce((a, c) => a + Math.log(c.ratio), 0) / agreeing.length) : null;
const total = (list, who) => list.reduce((a, c) => a + c[who].requests, 0);

lines.push("");
lines.push(
  `Geometric mean of ours/SDK over the ${agreeing.length} case(s) where both found the same non-null token endpoint: ` +
    (geomean === null ? "n/a" : geomean.toFixed(3)) +
    ` (target <= 0.6: ${geomean !== null && geomean <= 0.6 ? "met" : "not met"})`,
);
lines.push(
  `Requests, all ${cases.length} cases: ours ${total(cases, "ours")}, SDK ${total(cases, "sdk")}; ` +
    `the ${agreeing.length} agreeing cases: ours ${total(agreeing, "ours")}, SDK ${total(agreeing, "sdk")}`,
);
const differing = cases.filter((c) => !c.same_token_endpoint);
if (differing.length) {
  lines.push("");
  lines.push("Token endpoints where the two differ (or one failed):");
  for (const c of differing) {
    const show = (x) => (x.error ? `error: ${x.error}` : (x.token_endpoint ?? "none"));
    lines.push(`- ${c.case}: ours ${show(c.ours)}; SDK ${show(c.sdk)}`);
  }
}
if (skipped.length) lines.push("", `Not measured (fixtures expecting discover to reject): ${skipped.join(", ")}`);
console.log(lines.join("\n"));

mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(
  OUT,
  JSON.stringify(
    {
      benchmark: "discovery",
      latency_ms: LATENCY_MS,
      runs: RUNS,
      node: process.versions.node,
      mcp_authlink: ourVersion,
      sdk: sdkVersion,
      cases,
      geomean_ratio: geomean,
      geomean_cases: agreeing.length,
      geomean_target: 0.6,
      requests_total: { ours: total(cases, "ours"), sdk: total(cases, "sdk") },
      requests_total_agreeing: { ours: total(agreeing, "ours"), sdk: total(agreeing, "sdk") },
      skipped_expect_error: skipped,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote ${OUT.slice(root.length + 1)}`);
// Requests the SDK left hanging (replayed timeouts it never aborts) would keep Node alive.
process.exit(0);
