// Everything the demo needs, on 127.0.0.1 and real ports, for the Chromium tests: the built
// Worker in workerd (tests/worker/harness.mjs) behind a plain HTTP front (so the browser reaches
// it at PUBLIC_ORIGIN), the demo peers (oidc-provider + MCP SDK server, and a pair whose provider
// answers Cross-Origin-Opener-Policy), an MCP server that sends no CORS headers (so browser
// discovery needs the edge), and the demo frontend with its ticket-minting backend.
import { createServer } from "node:http";
import { demoServers, seedDemo, startDemo } from "../../demo/server.mjs";
import { closeServer, startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { ADMIN_KEY, startWorker } from "../worker/harness.mjs";

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

/** An HTTP front for miniflare's dispatchFetch: the browser talks to a real port. */
async function startFront() {
  const front = { mf: null };
  const server = createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (name === "host" || name === "connection") continue;
        for (const v of [value].flat()) headers.append(name, v);
      }
      const body = chunks.length && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined;
      const r = await front.mf.dispatchFetch(`${front.origin}${req.url}`, { method: req.method, headers, body, redirect: "manual" });
      const out = {};
      r.headers.forEach((value, name) => {
        if (name !== "set-cookie" && name !== "content-encoding" && name !== "content-length" && name !== "transfer-encoding") out[name] = value;
      });
      const cookies = r.headers.getSetCookie();
      if (cookies.length) out["set-cookie"] = cookies;
      const buf = Buffer.from(await r.arrayBuffer());
      res.writeHead(r.status, out);
      res.end(buf);
    } catch (e) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`front: ${e.message}`);
    }
  });
  front.origin = await listen(server);
  front.close = () => closeServer(server);
  return front;
}

/** An MCP endpoint that asks for OAuth like the SDK's, but sends no CORS headers at all. */
async function startNoCorsMcp(issuer) {
  let origin;
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (req.method === "OPTIONS") return res.writeHead(204).end();
    if (path === "/mcp") {
      res.writeHead(401, {
        "www-authenticate": `Bearer error="invalid_token", resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`,
        "content-type": "application/json",
      });
      return res.end('{"error":"invalid_token"}');
    }
    if (path === "/.well-known/oauth-protected-resource/mcp") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ resource: `${origin}/mcp`, authorization_servers: [issuer], scopes_supported: ["mcp:tools"], bearer_methods_supported: ["header"] }));
    }
    res.writeHead(404).end();
  });
  origin = await listen(server);
  return { endpoint: `${origin}/mcp`, close: () => closeServer(server) };
}

/**
 * Starts the stack; resolves to its parts and `close()`.
 * @param {{ticketTtlSeconds?: number, log?: boolean}} [options]
 */
export async function startDemoStack({ log = false } = {}) {
  const closers = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const as = await startAuthServer();
    closers.push(as.close);
    const mcp = await startMcpServer({ issuer: as.issuer });
    closers.push(mcp.close);
    const coopAs = await startAuthServer({ coop: true });
    closers.push(coopAs.close);
    const coopMcp = await startMcpServer({ issuer: coopAs.issuer });
    closers.push(coopMcp.close);
    const noCors = await startNoCorsMcp(as.issuer);
    closers.push(noCors.close);
    const front = await startFront();
    closers.push(front.close);
    const demo = await startDemo({ workerUrl: front.origin, adminKey: ADMIN_KEY, port: 0 });
    closers.push(demo.close);
    const worker = await startWorker({
      log,
      bindings: {
        PUBLIC_ORIGIN: front.origin,
        ALLOWED_RETURN_ORIGINS: [demo.origin, as.issuer, coopAs.issuer].join(","),
      },
    });
    closers.push(worker.close);
    front.mf = worker.mf;
    const ids = await seedDemo({ workerUrl: front.origin, adminKey: ADMIN_KEY, servers: demoServers({ mcp, coopMcp }) });
    return { as, mcp, coopAs, coopMcp, noCors, front, demo, worker, ids, close };
  } catch (e) {
    await close();
    throw e;
  }
}
