// Negative end-to-end cases of the target policy of a production-like deployment
// (ALLOW_PRIVATE_TARGETS "false", PUBLIC_ORIGIN https): discovery and create refuse http: and
// private, loopback, link-local and metadata addresses before any request is made. A local
// listener proves that nothing reached it; every other address is refused before sending, so
// the test itself never contacts anything but loopback.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, test } from "node:test";
import { startWorker } from "./harness.mjs";
import { PUBLIC, code, snapshot } from "./scenario.mjs";

let w, listener, port;
let connections = 0;

before(async () => {
  listener = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise((resolve) => listener.listen(0, "127.0.0.1", resolve));
  port = listener.address().port;
  w = await startWorker({ bindings: { ALLOW_PRIVATE_TARGETS: "false", PUBLIC_ORIGIN: "https://authlink.example" } });
});

after(async () => {
  await w?.close();
  await new Promise((resolve) => listener?.close(resolve));
});

const INSECURE = () => [`http://127.0.0.1:${port}/mcp`, `http://localhost:${port}/mcp`, "http://mcp.example.com/mcp"];
const PRIVATE = () => [
  `https://127.0.0.1:${port}/mcp`,
  "https://10.0.0.1/mcp",
  "https://169.254.169.254/latest",
  "https://[::1]/",
  "https://localhost/",
  `https://[::ffff:127.0.0.1]:${port}/mcp`,
  `https://2130706433:${port}/mcp`, // 127.0.0.1 spelled as a number
  "https://192.168.1.10/mcp",
  "https://metadata.google.internal/computeMetadata/v1/",
];

test("discover refuses http: (invalid_endpoint) and private targets (blocked_target), fetching nothing", async () => {
  for (const endpoint of INSECURE()) {
    const r = await w.admin("/ai/mcp-servers/discover", { method: "POST", body: { endpoint } });
    assert.equal(r.status, 400, `${endpoint}: ${r.text}`);
    assert.equal(code(r), "invalid_endpoint", endpoint);
    assert.match(r.json.errors[0].message, /uses http: use https/);
  }
  for (const endpoint of PRIVATE()) {
    const r = await w.admin("/ai/mcp-servers/discover", { method: "POST", body: { endpoint } });
    assert.equal(r.status, 400, `${endpoint}: ${r.text}`);
    assert.equal(code(r), "blocked_target", endpoint);
    assert.match(r.json.errors[0].message, /private, loopback, link-local or metadata address: use a public https host/);
    assert.match(r.json.errors[0].message, /ALLOW_PRIVATE_TARGETS=true/);
  }
  assert.equal(connections, 0, "no request reached the local listener");
});

test("create refuses the same URLs with per-field errors, storing nothing", async () => {
  const before = await snapshot(w);
  for (const endpoint of INSECURE()) {
    const r = await w.admin("/ai/mcp-servers", { method: "POST", body: { name: "ssrf", config: { endpoint, auth: { type: PUBLIC } } } });
    assert.equal(r.status, 400, r.text);
    assert.equal(code(r), "invalid_request");
    const e = r.json.errors.find((x) => x.path === "config.endpoint");
    assert.equal(e?.code, "insecure_url", `${endpoint}: ${r.text}`);
    assert.match(e.message, /use https/);
  }
  for (const endpoint of PRIVATE()) {
    const r = await w.admin("/ai/mcp-servers", { method: "POST", body: { name: "ssrf", config: { endpoint } } });
    assert.equal(r.status, 400, r.text);
    assert.equal(code(r), "invalid_request");
    const e = r.json.errors.find((x) => x.path === "config.endpoint");
    assert.equal(e?.code, "invalid_value", `${endpoint}: ${r.text}`);
    assert.match(e.message, /private, loopback, link-local or metadata address/);
  }
  // Every URL of the config is held to the same policy, each error at its own path.
  const r = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: {
      name: "ssrf-urls",
      config: {
        endpoint: "https://10.0.0.1/mcp",
        auth: {
          type: "oauth_client_credentials",
          client_id: "a",
          client_secret: "b",
          token_url: "https://169.254.169.254/token",
          resource: `http://127.0.0.1:${port}/mcp`,
        },
      },
    },
  });
  assert.equal(r.status, 400, r.text);
  const paths = Object.fromEntries(r.json.errors.slice(1).map((e) => [e.path, e.code]));
  assert.deepEqual(paths, {
    "config.endpoint": "invalid_value",
    "config.auth.token_url": "invalid_value",
    "config.auth.resource": "insecure_url",
  });
  assert.deepEqual(await snapshot(w), before);
  assert.equal(connections, 0);
});

test("PATCH to a private endpoint is refused and changes nothing", async () => {
  // A token server is stored without any request (token servers are not discovered).
  const c = await w.admin("/ai/mcp-servers", {
    method: "POST",
    body: { name: "public-one", config: { endpoint: "https://mcp.example.com/mcp", auth: { type: "token", auth_token: "t-123" } } },
  });
  assert.equal(c.status, 201, c.text);
  const id = c.json.server.id;
  const before = await snapshot(w);
  for (const endpoint of [...PRIVATE().slice(0, 3), INSECURE()[0]]) {
    const r = await w.admin(`/ai/mcp-servers/${id}`, {
      method: "PATCH",
      body: { config: { endpoint, auth: { type: "token", auth_token: "t-456" } } },
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(code(r), "invalid_request");
    assert.ok(r.json.errors.some((e) => e.path === "config.endpoint"), r.text);
  }
  assert.deepEqual(await snapshot(w), before);
  const got = await w.admin(`/ai/mcp-servers/${id}`);
  assert.equal(got.json.config.endpoint, "https://mcp.example.com/mcp");
  assert.equal(connections, 0);
});
