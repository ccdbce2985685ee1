// A fetch that answers from a discovery fixture (format: ../shared/fixtures/README.md), for
// the npm package's tests (in Node, workerd and Chromium) and the benchmark. Optional latency
// per request. No Node-only imports: this file is also bundled into a test Worker.

function abortError(signal) {
  return signal?.reason ?? new DOMException("This operation was aborted", "AbortError");
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(abortError(signal));
    });
  });
}

/** A fetch replaying `fixture.routes`; `calls` records [method, url] in order. */
export function replayFetch(fixture, { latencyMs = 0 } = {}) {
  const calls = [];
  const fetch = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    const method = (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    calls.push([method, url]);
    const signal = init.signal ?? undefined;
    if (latencyMs) await sleep(latencyMs, signal);
    if (signal?.aborted) throw abortError(signal);
    const route = fixture.routes.find((r) => r.url === url && (!r.method || r.method.toUpperCase() === method));
    if (!route) return new Response(null, { status: 404 });
    if (route.error === "timeout") {
      await sleep(2 ** 30, signal);
    }
    if (route.error) throw new TypeError("fetch failed");
    const headers = new Headers();
    for (const [name, value] of Object.entries(route.headers ?? {})) {
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const status = route.status ?? 200;
    const body = route.json !== undefined ? JSON.stringify(route.json) : (route.body ?? "");
    const nullBody = [101, 204, 205, 304].includes(status);
    return new Response(nullBody ? null : body, { status, headers });
  };
  return { fetch, calls };
}

// JSON with object keys sorted (arrays keep their order): equality that ignores key order.
function canonical(v) {
  return JSON.stringify(v, (_, x) =>
    x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

/** The problems of a result against a fixture's `expect` and `expect_warnings`. */
export function checkExpectations(fixture, result) {
  const problems = [];
  for (const [field, want] of Object.entries(fixture.expect ?? {})) {
    const got = result[field] ?? null;
    if (canonical(got) !== canonical(want)) {
      problems.push(`${field}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
  }
  const codes = (result.warnings ?? []).map((w) => w.code);
  for (const want of fixture.expect_warnings ?? []) {
    if (!codes.includes(want)) problems.push(`warning ${want} missing (got ${codes.join(", ")})`);
  }
  return problems;
}
