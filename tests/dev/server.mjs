// `make dev`: serves the discovery page on http://127.0.0.1:8787 (PORT to change it) with the
// built package at /pkg/, and starts local demo servers to discover: a real MCP server (the
// MCP SDK's) behind a real authorization server (oidc-provider), and a few recorded provider
// behaviours from the fixtures. Ctrl-C stops everything.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { serveFixture } from "../node/fixture-server.mjs";
import { discoveryFixtures } from "../node/fixtures.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const pkgDir = fileURLToPath(new URL("../../node_modules/mcp-authlink/", import.meta.url));
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
const DEMO_FIXTURES = ["linear-prm-via-challenge", "legacy-sse-405-get-retry-own-as", "gateway-reserves-idp-metadata-issuer-mismatch", "api-key-bare-bearer"];

async function file(res, path) {
  try {
    const body = await readFile(path);
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream", "cache-control": "no-store" });
    res.end(body);
  } catch {
    res.writeHead(404).end("not found");
  }
}

/** Starts the page server and the demos; resolves to `{url, demos, close()}`. */
export async function startDevServer({ port = 8787, host = "127.0.0.1", withDemos = true } = {}) {
  const closers = [];
  const demos = [];
  if (withDemos) {
    const as = await startAuthServer();
    const mcp = await startMcpServer({ issuer: as.issuer });
    closers.push(() => mcp.close(), () => as.close());
    demos.push({ name: "MCP SDK server + oidc-provider", endpoint: mcp.endpoint });
    const all = discoveryFixtures();
    for (const name of DEMO_FIXTURES) {
      const served = await serveFixture(all.find((f) => f.name === name));
      closers.push(served.close);
      demos.push({ name: `fixture: ${name}`, endpoint: served.fixture.endpoint });
    }
  }
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/") return file(res, join(here, "index.html"));
    if (path === "/app.js") return file(res, join(here, "app.js"));
    if (path === "/demos.json") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(demos));
    }
    if (path.startsWith("/pkg/")) {
      const rel = normalize(path.slice("/pkg/".length));
      if (rel.startsWith("..")) return res.writeHead(400).end();
      return file(res, join(pkgDir, rel));
    }
    res.writeHead(404).end("not found");
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const url = `http://${host}:${server.address().port}/`;
  return {
    url,
    demos,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      for (const c of closers) await c();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dev = await startDevServer({ port: Number(process.env.PORT ?? 8787) });
  console.log(`mcp-authlink dev page: ${dev.url}`);
  for (const d of dev.demos) console.log(`  demo ${d.name}: ${dev.url}?endpoint=${encodeURIComponent(d.endpoint)}`);
  console.log("Ctrl-C to stop.");
  const stop = async () => {
    await dev.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
