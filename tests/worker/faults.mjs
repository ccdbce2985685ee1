// A fault-injecting reverse proxy on 127.0.0.1 for the Worker's negative tests. It stands in
// front of the real test peers (tests/peers: oidc-provider and the MCP SDK server) and forwards
// everything, except what a test programs: so failures are injected around a real provider
// instead of being played by a hand-written protocol mock.
//
//   const proxy = await startFaultProxy({ authServer: as.issuer, mcpEndpoint: mcp.endpoint });
//   proxy.endpoint   // "http://127.0.0.1:<port>/mcp": the MCP endpoint to register
//   proxy.issuer     // "http://127.0.0.1:<port>": the issuer the Worker sees (= proxy.origin)
//   proxy.program({ method: "POST", path: "/token", respond: { status: 500, body: "boom" } });
//   proxy.exchanges  // every request it handled, with the upstream's answer
//   proxy.reset();   // drops the rules and the record, releases hanging requests
//   await proxy.close();
//
// Routing: the MCP endpoint's path and /.well-known/oauth-protected-resource* go to the MCP
// server; everything else goes to the authorization server.
//
// Being the issuer: requests to the authorization server keep the proxy's Host header, so
// oidc-provider builds every URL it emits (endpoints in its metadata, redirects, forms) on the
// proxy's origin. What still names the upstreams is rewritten to the proxy's origin: string
// values of the /.well-known/ JSON documents (the metadata's `issuer`, the protected resource's
// `resource` and `authorization_servers`), the Location header (the RFC 9207 `iss` of the
// authorization response, raw or percent-encoded) and WWW-Authenticate (`resource_metadata`).
// Tokens are still signed by the real provider with its own issuer: the MCP server (which
// checks them) is not meant to be called through this proxy.
//
// A rule: { method?, path: string | RegExp, when?: (req) => boolean, times?: number, and one of
//   respond: { status, headers?, body? | json? }   answer instead of the upstream;
//   hang: true                                     never answer (released by reset/close);
//   drop: true                                     close the connection without an answer;
//   transform: (json) => json                      forward, then rewrite the upstream's JSON
//                                                  answer (its status and headers are kept) }
// `req` is { method, path, query: URLSearchParams, headers, body: string, form: URLSearchParams }.
// Rules are tried in the order programmed; `times` (default: unlimited) counts uses.

import { createServer, request as httpRequest } from "node:http";
import { closeServer } from "../peers/auth-server.mjs";

const MAX_BODY = 4 * 1024 * 1024;

export async function startFaultProxy({ authServer, mcpEndpoint }) {
  const as = new URL(authServer);
  const mcp = mcpEndpoint ? new URL(mcpEndpoint) : undefined;
  let rules = [];
  const exchanges = [];
  const hanging = new Set();

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`fault proxy: ${error.message}`);
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.off("error", reject)));
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  const upstreamOrigins = [as.origin, mcp?.origin].filter(Boolean);

  /** Every upstream origin, raw and percent-encoded, replaced by the proxy's origin. */
  const rewrite = (text) => {
    let out = text;
    for (const up of upstreamOrigins) {
      out = out.split(up).join(origin).split(encodeURIComponent(up)).join(encodeURIComponent(origin));
    }
    return out;
  };
  const rewriteJson = (value) => {
    if (typeof value === "string") return rewrite(value);
    if (Array.isArray(value)) return value.map(rewriteJson);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteJson(v)]));
    }
    return value;
  };

  async function handle(req, res) {
    const url = new URL(req.url, origin);
    const body = await readBody(req);
    const info = {
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      form: new URLSearchParams(/urlencoded/.test(req.headers["content-type"] ?? "") ? body : ""),
    };
    const record = { method: req.method, path: url.pathname, query: url.search, headers: req.headers, body };
    exchanges.push(record);

    const rule = rules.find(
      (r) =>
        (r.method === undefined || r.method === req.method) &&
        (typeof r.path === "string" ? r.path === url.pathname : r.path.test(url.pathname)) &&
        (r.when === undefined || r.when(info)),
    );
    if (rule) {
      rule.used += 1;
      if (rule.times !== undefined && rule.used >= rule.times) rules = rules.filter((r) => r !== rule);
      record.fault = rule.hang ? "hang" : rule.drop ? "drop" : rule.respond ? "respond" : "transform";
    }
    if (rule?.drop) return req.socket.destroy();
    if (rule?.hang) {
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return;
    }
    if (rule?.respond) {
      const { status = 200, headers = {}, json } = rule.respond;
      const out = json !== undefined ? JSON.stringify(json) : (rule.respond.body ?? "");
      const type = json !== undefined ? { "content-type": "application/json" } : {};
      record.status = status;
      record.response = out;
      res.writeHead(status, { ...type, ...headers, "content-length": Buffer.byteLength(out) });
      return res.end(out);
    }

    const toMcp = mcp && (url.pathname === mcp.pathname || url.pathname.startsWith("/.well-known/oauth-protected-resource"));
    const target = toMcp ? mcp : as;
    const headers = { ...req.headers };
    delete headers["accept-encoding"]; // plain bodies, to rewrite and to record
    delete headers["content-length"];
    delete headers.connection;
    // The authorization server sees the proxy's Host (it then speaks in the proxy's URLs); the
    // MCP server checks its Host against DNS rebinding, so it gets its own.
    if (toMcp) headers.host = mcp.host;
    const upstream = await forward(target, req.method, url.pathname + url.search, headers, body);

    let out = upstream.body;
    const isJson = /json/.test(upstream.headers["content-type"] ?? "");
    if (isJson && (url.pathname.startsWith("/.well-known/") || rule?.transform)) {
      let doc = JSON.parse(out);
      if (url.pathname.startsWith("/.well-known/")) doc = rewriteJson(doc);
      if (rule?.transform) doc = rule.transform(doc);
      out = JSON.stringify(doc);
    }
    const outHeaders = { ...upstream.headers };
    delete outHeaders["transfer-encoding"];
    delete outHeaders.connection;
    delete outHeaders["keep-alive"];
    if (outHeaders.location) outHeaders.location = rewrite(outHeaders.location);
    if (outHeaders["www-authenticate"]) outHeaders["www-authenticate"] = rewrite(outHeaders["www-authenticate"]);
    outHeaders["content-length"] = Buffer.byteLength(out);
    record.status = upstream.status;
    record.response = out;
    res.writeHead(upstream.status, outHeaders);
    res.end(out);
  }

  return {
    origin,
    issuer: origin,
    endpoint: mcp ? `${origin}${mcp.pathname}` : undefined,
    exchanges,
    /** Adds a rule; returns it (its `used` counts the requests it caught). */
    program(rule) {
      if (!rule.path) throw new Error("fault proxy: a rule needs a path");
      const r = { ...rule, used: 0 };
      rules.push(r);
      return r;
    },
    /** The exchanges for `path` (and `method`, when given). */
    seen(path, method) {
      return exchanges.filter((e) => e.path === path && (method === undefined || e.method === method));
    },
    reset() {
      rules = [];
      exchanges.length = 0;
      for (const res of hanging) res.destroy();
      hanging.clear();
    },
    async close() {
      for (const res of hanging) res.destroy();
      await closeServer(server);
    },
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) return req.destroy(new Error("request body too large"));
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function forward(target, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const out = httpRequest(
      { host: target.hostname, port: target.port, method, path, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    out.on("error", reject);
    out.end(body.length ? body : undefined);
  });
}
