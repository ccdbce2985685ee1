// The demo frontend's server: serves the page (demo/app.jsx bundled by esbuild from
// node_modules, React included), the npm package under /pkg/ for the "check a server" box, and
// a tiny backend that mints session tickets with the admin key.
//
// A real backend does the same with one difference that matters: it mints a ticket only for the
// person signed in to it (actor_id = that person) and only for the agents that person may use,
// and the admin key never leaves the server. This demo has one fixed person and agent.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "..");
const pkgDir = join(root, "node_modules", "mcp-authlink");
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

/** The page's script: app.jsx with React and the client/react entries; the main entry stays external (wasm, loaded on use). */
export async function bundleDemo() {
  const out = await build({
    entryPoints: [join(here, "app.jsx")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    minify: true,
    define: { "process.env.NODE_ENV": '"production"' },
    write: false,
    logLevel: "silent",
    plugins: [
      {
        name: "core-stays-external",
        setup(b) {
          b.onResolve({ filter: /^mcp-authlink$/ }, () => ({ path: "mcp-authlink", external: true }));
        },
      },
    ],
  });
  return out.outputFiles[0].contents;
}

/**
 * Starts the demo server.
 * @param {object} options
 * @param {string} options.workerUrl the Worker (e.g. http://127.0.0.1:8787)
 * @param {string} options.adminKey the Worker's ADMIN_API_KEY (the demo backend's secret)
 * @param {number} [options.port=8790]
 * @param {string} [options.actorId="demo-person"] the person this demo pretends is signed in
 * @param {string} [options.agentId="demo-agent"]
 * @param {number} [options.ticketTtlSeconds=3600]
 */
export async function startDemo({ workerUrl, adminKey, port = 8790, host = "127.0.0.1", actorId = "demo-person", agentId = "demo-agent", ticketTtlSeconds = 3600 }) {
  const appJs = await bundleDemo();
  const stats = { tickets: 0 };
  const settings = { ticketTtlSeconds };
  // More static pages on this origin (tests add their own: path -> {type, body}).
  const extra = new Map();
  const send = (res, status, type, body) => {
    res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
    res.end(body);
  };
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    try {
      if (req.method === "GET" && path === "/") return send(res, 200, TYPES[".html"], await readFile(join(here, "index.html")));
      if (req.method === "GET" && path === "/app.js") return send(res, 200, TYPES[".js"], appJs);
      if (req.method === "GET" && extra.has(path)) return send(res, 200, extra.get(path).type, extra.get(path).body);
      if (req.method === "GET" && path === "/api/config") return send(res, 200, TYPES[".json"], JSON.stringify({ workerUrl, actorId, agentId }));
      if (req.method === "POST" && path === "/api/ticket") {
        // Here a real backend checks its own session first.
        const r = await fetch(`${workerUrl}/ai/session-tickets`, {
          method: "POST",
          headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
          body: JSON.stringify({ actor_id: actorId, agent_ids: [agentId], ttl_seconds: settings.ticketTtlSeconds }),
        });
        const body = await r.text();
        if (r.status === 201) stats.tickets += 1;
        return send(res, r.status === 201 ? 200 : 502, TYPES[".json"], body);
      }
      if (req.method === "GET" && path.startsWith("/pkg/")) {
        const rel = normalize(decodeURIComponent(path.slice("/pkg/".length)));
        if (rel.startsWith("..")) return send(res, 400, "text/plain", "bad path");
        return send(res, 200, TYPES[extname(rel)] ?? "application/octet-stream", await readFile(join(pkgDir, rel)));
      }
      send(res, 404, "text/plain", "not found");
    } catch (e) {
      send(res, e?.code === "ENOENT" ? 404 : 500, "text/plain", e?.code === "ENOENT" ? "not found" : String(e?.message ?? e));
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const origin = `http://${host}:${server.address().port}`;
  return {
    url: `${origin}/`,
    origin,
    stats,
    settings,
    extra,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * Registers the demo's MCP servers at the Worker (replacing ones of the same name: their
 * dynamically registered clients belong to providers that may have restarted) and attaches
 * them to the agent. Resolves to {name: server id}.
 * @param {{workerUrl: string, adminKey: string, agentId?: string, servers: {name: string, config: object}[]}} options
 */
export async function seedDemo({ workerUrl, adminKey, agentId = "demo-agent", servers }) {
  const call = async (method, path, body) => {
    const r = await fetch(`${workerUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const existing = (await call("GET", "/ai/mcp-servers?limit=200")).items;
  const ids = {};
  for (const s of servers) {
    for (const old of existing.filter((e) => e.name === s.name)) await call("DELETE", `/ai/mcp-servers/${old.id}`);
    const created = await call("POST", "/ai/mcp-servers", s);
    ids[s.name] = created.server.id;
    await call("POST", `/ai/agents/${encodeURIComponent(agentId)}/mcp-servers/${created.server.id}/attach`);
  }
  return ids;
}

/** The demo's servers for a set of running peers. */
export function demoServers({ mcp, coopMcp }) {
  const oauth = { type: "oauth_authorization_code_confidential_pkce" };
  const list = [{ name: "demo-oauth", config: { endpoint: mcp.endpoint, auth: oauth } }];
  if (coopMcp) list.push({ name: "demo-coop", config: { endpoint: coopMcp.endpoint, auth: oauth } });
  list.push({ name: "demo-token", config: { endpoint: mcp.endpoint, auth: { type: "token", auth_token: "demo-static-token" } } });
  return list;
}
