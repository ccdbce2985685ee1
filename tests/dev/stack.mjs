// `make dev`: the whole system on this machine, offline. Starts the demo peers (an
// oidc-provider authorization server and an MCP SDK server that accepts only its tokens),
// then `wrangler dev` with the Worker on http://127.0.0.1:8787 (local D1, .dev.vars), and
// prints what to try. Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { existsSync, copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { root } from "../node/fixtures.mjs";

const PORT = Number(process.env.PORT ?? 8787);
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };

if (!existsSync(join(root, ".dev.vars"))) {
  copyFileSync(join(root, ".dev.vars.example"), join(root, ".dev.vars"));
  console.log("created .dev.vars from .dev.vars.example");
}

function run(args, options = {}) {
  return spawn(process.execPath, [wrangler, ...args], { cwd: root, env, stdio: "inherit", ...options });
}

await new Promise((resolve, reject) => {
  run(["d1", "migrations", "apply", "mcp-authlink", "--local"]).on("exit", (code) =>
    code === 0 ? resolve() : reject(new Error(`migrations failed (${code})`)),
  );
});

const as = await startAuthServer({ port: Number(process.env.DEMO_AS_PORT ?? 9010) });
const mcp = await startMcpServer({ issuer: as.issuer, port: Number(process.env.DEMO_MCP_PORT ?? 9011) });
const dev = run(["dev", "--ip", "127.0.0.1", "--port", String(PORT)]);

const base = `http://127.0.0.1:${PORT}`;
// The admin key of .dev.vars (an older .dev.vars may hold a key the Worker now refuses).
const key = /^ADMIN_API_KEY=(.*)$/m.exec(readFileSync(join(root, ".dev.vars"), "utf8"))?.[1]?.trim() ?? "";
if (key.length < 32) {
  console.log("ADMIN_API_KEY in .dev.vars is shorter than 32 characters: the Worker will answer 500 misconfigured;" +
    " delete .dev.vars to get the current .dev.vars.example");
}
console.log(`
mcp-authlink is starting on ${base}
  demo authorization server (oidc-provider): ${as.issuer}   (any login and password)
  demo MCP server (MCP SDK, needs its tokens): ${mcp.endpoint}

Try (see README.md for the whole walk-through):
  curl -s -X POST ${base}/ai/mcp-servers/discover -H 'authorization: Bearer ${key}' \\
       -H 'content-type: application/json' -d '{"endpoint":"${mcp.endpoint}"}'
  curl -s -X POST ${base}/ai/mcp-servers -H 'authorization: Bearer ${key}' -H 'content-type: application/json' \\
       -d '{"name":"demo","config":{"endpoint":"${mcp.endpoint}","auth":{"type":"oauth_authorization_code_confidential_pkce"}}}'
`);

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  dev.kill("SIGTERM");
  await mcp.close();
  await as.close();
  process.exit(code);
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
dev.on("exit", (code) => stop(code ?? 0));
