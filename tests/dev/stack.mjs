// `make dev`: the whole system on this machine, offline. Starts the demo peers (an
// oidc-provider authorization server and an MCP SDK server that accepts only its tokens, and a
// second pair whose provider answers Cross-Origin-Opener-Policy), then `wrangler dev` with the
// Worker on http://127.0.0.1:8787 (local D1, .dev.vars), registers the demo servers for agent
// `demo-agent`, serves the demo frontend on http://127.0.0.1:8790, and prints what to try.
// Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { existsSync, copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { demoServers, seedDemo, startDemo } from "../../demo/server.mjs";
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
const coopAs = await startAuthServer({ port: Number(process.env.DEMO_COOP_AS_PORT ?? 9012), coop: true });
const coopMcp = await startMcpServer({ issuer: coopAs.issuer, port: Number(process.env.DEMO_COOP_MCP_PORT ?? 9013) });
const dev = run(["dev", "--ip", "127.0.0.1", "--port", String(PORT)]);

const base = `http://127.0.0.1:${PORT}`;
// The admin key of .dev.vars: the demo backend mints session tickets with it.
const devVars = Object.fromEntries(
  readFileSync(join(root, ".dev.vars"), "utf8")
    .split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]),
);
const key = devVars.ADMIN_API_KEY ?? "";
if (key.length < 32) {
  console.log("ADMIN_API_KEY in .dev.vars is shorter than 32 characters: the Worker will answer 500 misconfigured;" +
    " delete .dev.vars to get the current .dev.vars.example");
}
const DEMO_PORT = Number(process.env.DEMO_PORT ?? 8790);
let demo;
(async () => {
  // Wait for the Worker, then register the demo servers and serve the demo frontend.
  for (let i = 0; ; i += 1) {
    const ok = await fetch(`${base}/ai/mcp-servers?limit=1`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 240) throw new Error(`the Worker did not answer on ${base}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await seedDemo({ workerUrl: base, adminKey: key, servers: demoServers({ mcp, coopMcp }) });
  demo = await startDemo({ workerUrl: base, adminKey: key, port: DEMO_PORT });
  if (!(devVars.ALLOWED_RETURN_ORIGINS ?? "").split(",").map((o) => o.trim()).includes(demo.origin)) {
    console.warn(`\nWARNING: .dev.vars ALLOWED_RETURN_ORIGINS lacks ${demo.origin}: add it (see .dev.vars.example) and restart.`);
  }
  console.log(`\nThe demo frontend: ${demo.url}  (agent demo-agent, person demo-person; any login and password at the providers)\n`);
})().catch((e) => {
  console.error(`demo setup failed: ${e.message}`);
});

console.log(`
mcp-authlink is starting on ${base}
  demo authorization server (oidc-provider): ${as.issuer}   (any login and password)
  demo MCP server (MCP SDK, needs its tokens): ${mcp.endpoint}
  the same pair, the provider answering Cross-Origin-Opener-Policy: ${coopAs.issuer}, ${coopMcp.endpoint}
  the demo frontend (after the Worker is up): http://127.0.0.1:${DEMO_PORT}/

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
  await demo?.close();
  await Promise.all([mcp.close(), coopMcp.close()]);
  await Promise.all([as.close(), coopAs.close()]);
  process.exit(code);
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
dev.on("exit", (code) => stop(code ?? 0));
