// Serves a discovery fixture over real HTTP on 127.0.0.1: one server per origin the fixture
// names, and the fixture rewritten so that its URLs point at them. Lets the package's tests
// use the runtime's real fetch (Node, workerd, Chromium) instead of a replay function.
// CORS is open (the browser tests need it), except that `error: "network"` routes drop the
// connection, which is what a browser reports for DNS, TLS and CORS failures alike.
import { createServer } from "node:http";

function originsOf(fixture) {
  const text = JSON.stringify(fixture);
  return [...new Set(text.match(/https?:\/\/[A-Za-z0-9.-]+(?::\d+)?(?=[/\\"?#]|$)/g) ?? [])];
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "content-type, accept, mcp-protocol-version, authorization",
  "access-control-expose-headers": "www-authenticate, location",
};

/** Starts the servers; resolves to `{fixture, close()}` with `fixture` rewritten to them. */
export async function serveFixture(original) {
  const servers = [];
  let text = JSON.stringify(original);
  for (const origin of originsOf(original).sort((a, b) => b.length - a.length)) {
    const server = createServer();
    servers.push(server);
    const port = await listen(server);
    const escaped = origin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    text = text.replace(new RegExp(`${escaped}(?=[/\\\\"?#]|$)`, "g"), `http://127.0.0.1:${port}`);
  }
  const fixture = JSON.parse(text);
  for (const server of servers) {
    server.on("request", (req, res) => {
      const { port } = server.address();
      const url = `http://127.0.0.1:${port}${req.url}`;
      if (req.method === "OPTIONS") {
        res.writeHead(204, CORS).end();
        return;
      }
      // A bare origin is requested as "/"; fixtures list it with and without the slash.
      const route = fixture.routes.find(
        (r) =>
          (r.url === url || (req.url === "/" && r.url === url.slice(0, -1))) &&
          (!r.method || r.method.toUpperCase() === req.method),
      );
      req.resume();
      if (!route) {
        res.writeHead(404, CORS).end();
        return;
      }
      if (route.error === "network") {
        req.socket.destroy();
        return;
      }
      if (route.error === "timeout") return; // never answers
      const headers = { ...CORS };
      for (const [name, value] of Object.entries(route.headers ?? {})) headers[name] = value;
      const body = route.json !== undefined ? JSON.stringify(route.json) : (route.body ?? "");
      res.writeHead(route.status ?? 200, headers);
      res.end(body);
    });
  }
  return {
    fixture,
    close: () =>
      Promise.all(
        servers.map((s) => {
          s.closeAllConnections();
          return new Promise((r) => s.close(r));
        }),
      ),
  };
}
