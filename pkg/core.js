// The npm package's API over the wasm core. The core does every decision; this file only
// adapts: it turns JSON envelopes into values or `McpAuthlinkError`s, and it is the fetch
// adapter (timeouts, body caps, no redirects) that discovery's requests go through.
import { McpAuthlinkError } from "./error.js";
import * as raw from "./wasm/mcp_authlink.js";

export { McpAuthlinkError };

// raw.call(op, a, b) runs the synchronous function numbered op: its place in the list the
// wasm module exports (raw.ops(), the OPS list of src/wasm.rs), the one source of the numbers.
// Read on first use: the module is instantiated after this file is evaluated.
let opNumbers;
function op(name) {
  opNumbers ??= new Map(raw.ops().split(",").map((n, i) => [n, i]));
  // An unknown name becomes a number no function has: the call answers "no such function".
  return opNumbers.get(name) ?? 0xffffffff;
}

function unwrap(json) {
  const v = JSON.parse(json);
  if (v.error) throw new McpAuthlinkError(v.error.code, v.error.message);
  return v.ok;
}

function argument(message) {
  return new McpAuthlinkError("invalid_argument", message);
}

async function readCapped(body, max) {
  const reader = body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      reader.cancel().catch(() => {});
      return { text: "", tooLarge: true };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { text: new TextDecoder().decode(bytes), tooLarge: false };
}

// A page's cookies, referrer and HTTP cache never go with discovery's requests. Workers have
// none of them, and workerd before compatibility date 2024-11-11 throws on `cache` ("not
// implemented"), so there they are left out.
const PAGE_FREE =
  globalThis.navigator?.userAgent === "Cloudflare-Workers"
    ? {}
    : { credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store" };

// Sends one planned request: never follows redirects, aborts after `timeout_ms`, reads at
// most `max_body_bytes` (none for 0), and carries nothing of the page (no cookies or other
// credentials, no referrer, no HTTP cache). Answers `{response}` or `{error: {kind, message}}`;
// `seen.network` records a fetch that threw a TypeError (how a browser reports a CORS refusal).
async function send(fetchImpl, req, outer, seen) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeout_ms);
  const onAbort = () => controller.abort();
  outer.addEventListener("abort", onAbort);
  try {
    const headers = new Headers();
    for (const [name, value] of req.headers) headers.append(name, value);
    const res = await fetchImpl(req.url, {
      method: req.method,
      headers,
      body: req.body ?? undefined,
      redirect: "manual",
      ...PAGE_FREE,
      signal: controller.signal,
    });
    const list = [];
    res.headers.forEach((value, name) => list.push([name, value]));
    let body = "";
    let tooLarge = false;
    if (req.max_body_bytes > 0 && res.body) {
      ({ text: body, tooLarge } = await readCapped(res.body, req.max_body_bytes));
    } else if (res.body) {
      res.body.cancel().catch(() => {});
    }
    const status = res.type === "opaqueredirect" ? 0 : res.status;
    return { response: { status, headers: list, body, body_too_large: tooLarge } };
  } catch (e) {
    if (timedOut) return { error: { kind: "timeout", message: `no answer within ${req.timeout_ms} ms` } };
    if (outer.aborted) return { error: { kind: "aborted", message: "aborted" } };
    if (e instanceof TypeError) seen.network = true;
    return { error: { kind: "network", message: String(e?.message ?? e) } };
  } finally {
    clearTimeout(timer);
    outer.removeEventListener("abort", onAbort);
  }
}

/**
 * discovery.md §1-§6: resolves to a DiscoveryResult with `via: "browser"`. With
 * `options.edge` (a runtime client), a run that met a network error the browser could not read
 * past (a CORS refusal) runs again at the Worker and resolves with `via: "edge"`.
 * `options.blockPrivate` refuses private and loopback targets (default: on in Node unless
 * `allowHttp` is true; see node.js).
 */
export async function discover(endpoint, options = {}) {
  if (endpoint instanceof URL) endpoint = endpoint.href;
  if (typeof endpoint !== "string") throw new McpAuthlinkError("invalid_endpoint", "endpoint must be a URL string");
  // The core reads ASCII host names only (see README, Limits); the runtime's URL turns a
  // Unicode host into punycode. ASCII input is passed as given, so that a bare origin stays
  // without a trailing slash.
  if (/[^\x00-\x7f]/.test(endpoint) && URL.canParse(endpoint)) endpoint = new URL(endpoint).href;
  const { fetch: fetchOption, timeoutMs, allowHttp = false, allowIssuerMismatch = false, onStep, signal, blockPrivate = false, edge } = options ?? {};
  if (fetchOption !== undefined && typeof fetchOption !== "function") throw argument("options.fetch must be a function");
  if (onStep !== undefined && typeof onStep !== "function") throw argument("options.onStep must be a function");
  if (edge !== undefined && typeof edge?.discoverAtEdge !== "function") {
    throw argument("options.edge must be a runtime client (new McpAuthlinkClient from mcp-authlink/client)");
  }
  if (timeoutMs !== undefined && !(typeof timeoutMs === "number" && timeoutMs >= 1)) {
    throw argument("options.timeoutMs must be a positive number of milliseconds");
  }
  if (signal?.aborted) throw new McpAuthlinkError("aborted", "Discovery was aborted by the caller's signal.");
  const fetchImpl = fetchOption ?? ((url, init) => globalThis.fetch(url, init));
  // One controller for the whole run: the caller's signal aborts it, and so does the end of
  // the run, which cancels speculative requests nobody needs any more.
  const run = new AbortController();
  const onAbort = () => run.abort();
  signal?.addEventListener("abort", onAbort);
  const seen = { network: false };
  let local;
  try {
    const json = await raw.discover(
      endpoint,
      timeoutMs === undefined ? undefined : Math.min(Math.ceil(timeoutMs), 2 ** 31),
      !!allowHttp,
      !!allowIssuerMismatch,
      async (request) => JSON.stringify(await send(fetchImpl, JSON.parse(request), run.signal, seen)),
      onStep ? (entry) => onStep(JSON.parse(entry)) : undefined,
      !!blockPrivate,
    );
    local = { result: unwrap(json) };
  } catch (error) {
    local = { error };
  } finally {
    signal?.removeEventListener("abort", onAbort);
    run.abort();
  }
  // The edge runs the whole discovery again only when the browser could not read an answer;
  // an answer the browser read (even a refusal) is the answer.
  if (edge && seen.network && !signal?.aborted && local.error?.code !== "invalid_endpoint") {
    try {
      return { ...(await edge.discoverAtEdge(endpoint, { signal })), via: "edge" };
    } catch (edgeError) {
      if (local.error || edgeError?.code === "aborted") throw edgeError;
    }
  }
  if (local.error) throw local.error;
  return { ...local.result, via: "browser" };
}

/** discovery.md §2: every challenge of a WWW-Authenticate value; never throws. */
export function parseWwwAuthenticate(header) {
  return unwrap(raw.call(op("parseWwwAuthenticate"), String(header ?? ""), ""));
}

/** discovery.md §6 on a DiscoveryResult-shaped object. */
export function recommendAuthMode(result) {
  return unwrap(raw.call(op("recommendAuthMode"), JSON.stringify(result ?? {}), ""));
}

/** RFC 7636: `{code_verifier, code_challenge, code_challenge_method: "S256"}`. */
export function generatePkce() {
  return unwrap(raw.call(op("generatePkce"), "", ""));
}

/** The S256 challenge of a verifier; throws `invalid_verifier` outside RFC 7636's rules. */
export function pkceChallenge(verifier) {
  if (typeof verifier !== "string") throw new McpAuthlinkError("invalid_verifier", "the verifier must be a string");
  return unwrap(raw.call(op("pkceChallenge"), verifier, ""));
}

/** A fresh `state` (256 random bits, base64url). */
export function generateState() {
  return unwrap(raw.call(op("generateState"), "", ""));
}

/** discovery.md §8: the authorization request URL. */
export function buildAuthorizationUrl(params) {
  return unwrap(raw.call(op("buildAuthorizationUrl"), JSON.stringify(params ?? null), ""));
}

/** The server-config contract: `{ok: true, value}` or `{ok: false, errors: [{path, code, message}]}`. */
export function validateServerConfig(input) {
  return unwrap(raw.call(op("validateServerConfig"), JSON.stringify(input ?? null), ""));
}

/** Fills missing OAuth fields of a config from a DiscoveryResult; never overwrites. */
export function hydrateServerConfig(config, discovery) {
  return unwrap(raw.call(op("hydrateServerConfig"), JSON.stringify(config ?? null), JSON.stringify(discovery ?? null)));
}

/** discovery.md §7: the ordered dynamic-registration methods for a DiscoveryResult. */
export function registrationMethods(discovery) {
  return unwrap(raw.call(op("registrationMethods"), JSON.stringify(discovery ?? null), ""));
}
