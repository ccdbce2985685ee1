#!/usr/bin/env node
// Starts the test authorization server and the test MCP server on 127.0.0.1, prints one JSON
// line to stdout, and runs until SIGINT or SIGTERM (then closes both and exits 0).
//
//   node tests/peers/start.mjs [--auth-port N] [--mcp-port N] [--access-token-ttl SECONDS]
//   -> {"issuer":"http://127.0.0.1:9400","mcp_endpoint":"http://127.0.0.1:9401/mcp"}
//
// Ports default to the environment (PEERS_AUTH_PORT, PEERS_MCP_PORT), else ephemeral (0).
// The access token lifetime defaults to PEERS_ACCESS_TOKEN_TTL, else 300 seconds.
// Everything else this process logs goes to stderr, so stdout carries only that JSON line.

import { parseArgs } from "node:util";
import { startAuthServer } from "./auth-server.mjs";
import { startMcpServer } from "./mcp-server.mjs";

// oidc-provider prints notices with console.info (stdout): keep stdout for the JSON line.
console.info = console.error;
console.log = console.error;

const { values } = parseArgs({
  options: {
    "auth-port": { type: "string", default: process.env.PEERS_AUTH_PORT ?? "0" },
    "mcp-port": { type: "string", default: process.env.PEERS_MCP_PORT ?? "0" },
    "access-token-ttl": { type: "string", default: process.env.PEERS_ACCESS_TOKEN_TTL ?? "300" },
  },
});

function integer(name, min, max) {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`start.mjs: --${name} must be an integer from ${min} to ${max}, got ${values[name]}`);
    process.exit(2);
  }
  return value;
}

const authPort = integer("auth-port", 0, 65535);
const mcpPort = integer("mcp-port", 0, 65535);
const accessTokenTtl = integer("access-token-ttl", 1, 86400);

let authServer;
let mcpServer;
try {
  authServer = await startAuthServer({ port: authPort, accessTokenTtl });
  mcpServer = await startMcpServer({ issuer: authServer.issuer, port: mcpPort });
} catch (error) {
  console.error(`start.mjs: could not start the test peers: ${error.message}`);
  await authServer?.close();
  process.exit(1);
}

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`start.mjs: ${signal}, closing the test peers`);
  await Promise.allSettled([mcpServer.close(), authServer.close()]);
  process.exit(0);
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));

process.stdout.write(`${JSON.stringify({ issuer: authServer.issuer, mcp_endpoint: mcpServer.endpoint })}\n`);
