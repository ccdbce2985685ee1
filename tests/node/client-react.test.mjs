// mcp-authlink/react on the server, with React 19 and React 18 (the package "react-18" stands in
// for "react" through esbuild's alias): renderToString works with no `window`, shows the
// loading state, and calls neither getTicket nor fetch.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { build } from "esbuild";
import { root } from "./fixtures.mjs";

const ENTRY = `
import { createElement as h } from "react";
import { renderToString } from "react-dom/server";
import { version } from "react";
import { McpAuthlinkClient } from "mcp-authlink/client";
import { useAgentMcpServers } from "mcp-authlink/react";

export function render(calls) {
  const client = new McpAuthlinkClient({
    baseUrl: "https://authlink.example.com",
    getTicket: () => { calls.push("getTicket"); return "t"; },
    fetch: async () => { calls.push("fetch"); throw new Error("no fetch during SSR"); },
  });
  function Servers() {
    const { servers, loading, error } = useAgentMcpServers(client, "agent-1");
    return h("p", null, loading ? "Loading servers" : servers.length + " servers", error ? " " + error.code : "");
  }
  return { html: renderToString(h(Servers)), version };
}
`;

async function bundle(alias) {
  const dir = mkdtempSync(join(tmpdir(), "mcp-authlink-ssr-"));
  const out = join(dir, "ssr.mjs");
  const result = await build({
    stdin: { contents: ENTRY, resolveDir: root, loader: "js" },
    bundle: true,
    format: "esm",
    platform: "node",
    alias,
    write: false,
    logLevel: "silent",
    // React's CommonJS files call require(); esbuild's ESM output needs one.
    banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' },
  });
  writeFileSync(out, result.outputFiles[0].text);
  try {
    return await import(pathToFileURL(out).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const [label, major, alias] of [
  ["React 19", "19.", {}],
  ["React 18", "18.", { react: "react-18", "react-dom": "react-dom-18" }],
]) {
  test(`${label}: useAgentMcpServers renders on the server without window, ticket or fetch`, async () => {
    assert.equal(typeof globalThis.window, "undefined");
    const { render } = await bundle(alias);
    const calls = [];
    const { html, version } = render(calls);
    assert.ok(version.startsWith(major), version);
    assert.equal(html, "<p>Loading servers</p>");
    assert.deepEqual(calls, []);
  });
}
