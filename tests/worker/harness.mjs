// Runs the built Worker (make worker: build/worker) in workerd through miniflare, with a
// local D1 whose schema comes from migrations/, and the local development settings.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { root } from "../node/fixtures.mjs";

export const ORIGIN = "http://127.0.0.1:8787";
export const ADMIN_KEY = "test-admin-key-0123456789abcdef0123456789";
export const DEV_BINDINGS = {
  ADMIN_API_KEY: ADMIN_KEY,
  TICKET_KEY: "test-ticket-key-0123456789abcdef0123456789abcdef",
  SEAL_KEY: "dGVzdC1zZWFsLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=",
  PUBLIC_ORIGIN: ORIGIN,
  ALLOW_PRIVATE_TARGETS: "true",
  ALLOWED_RETURN_ORIGINS: "http://127.0.0.1:3000",
};

/** The statements of every migration, in order. */
export function migrations() {
  const dir = join(root, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .replace(/--[^\n]*/g, "")
        .split(/;\s*(?:\n|$)/)
        .map((s) => s.trim())
        .filter(Boolean),
    );
}

/**
 * Starts the Worker; `bindings` override the development settings. With `port`, it also
 * listens on http://127.0.0.1:<port> (for peers that fetch from it, such as the conformance
 * suite's clients).
 */
export async function startWorker({ bindings = {}, log = false, port } = {}) {
  const out = join(root, "build", "worker");
  const logs = [];
  const mf = new Miniflare({
    modules: true,
    modulesRoot: out,
    scriptPath: join(out, "index.js"),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-07-30",
    ...(port ? { host: "127.0.0.1", port } : {}),
    d1Databases: { DB: "mcp-authlink-test" },
    // The webhook queue, produced and consumed by the Worker as in wrangler.toml (batches
    // flushed after 1 s instead of 5, retries as configured there).
    queueProducers: { WEBHOOK_QUEUE: "mcp-authlink-webhooks" },
    queueConsumers: { "mcp-authlink-webhooks": { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 8 } },
    bindings: { ...DEV_BINDINGS, ...bindings },
    handleRuntimeStdio: (stdout, stderr) => {
      for (const s of [stdout, stderr]) {
        s.on("data", (d) => {
          logs.push(String(d));
          if (log) process.stderr.write(d);
        });
      }
    },
  });
  await mf.ready;
  const db = await mf.getD1Database("DB");
  for (const statement of migrations()) await db.prepare(statement).run();
  const call = async (path, { method = "GET", body, token, headers = {} } = {}) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h["content-type"] = "application/json";
    const res = await mf.dispatchFetch(`${ORIGIN}${path}`, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      redirect: "manual",
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  const admin = (path, init = {}) => call(path, { ...init, token: ADMIN_KEY });
  return { mf, db, call, admin, logs, close: () => mf.dispose() };
}
