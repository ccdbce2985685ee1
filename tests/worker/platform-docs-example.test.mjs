// The backend example of docs/api.md, run as written against the Worker and the real peers:
// the code block is taken from the document, only the local addresses are put in (the admin
// key, the demo MCP endpoint), its fetch to the Worker goes to miniflare, and the person's
// consent (the frontend's part, step 3) is done meanwhile by the test. It must end by printing
// the MCP server's tools.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import { root } from "../node/fixtures.mjs";
import { ADMIN_KEY, ORIGIN } from "./harness.mjs";
import { callback, consentParams, startStack, ticketFor } from "./scenario.mjs";
import { eventually } from "./platform.mjs";

let s;

before(async () => {
  s = await startStack();
});

after(async () => {
  await s?.close();
});

function exampleCode() {
  const doc = readFileSync(join(root, "docs", "api.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Backend example (Node)"));
  const code = /```js\n([\s\S]*?)```/.exec(section)[1];
  assert.ok(code.split("\n").length <= 50, "about 40 lines");
  assert.ok(code.includes('const W = "http://127.0.0.1:8787", ADMIN = "dev-admin-key";'));
  assert.ok(code.includes("http://127.0.0.1:9011/mcp"));
  return code
    .replace('ADMIN = "dev-admin-key"', `ADMIN = ${JSON.stringify(ADMIN_KEY)}`)
    .replace("http://127.0.0.1:9011/mcp", s.mcp.endpoint);
}

test("the API reference's Node example runs from create to a working tools/list", async () => {
  const dir = join(root, "build", "docs-example");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `example-${process.pid}.mjs`);
  writeFileSync(file, exampleCode());

  const realFetch = globalThis.fetch;
  const printed = [];
  const realLog = console.log;
  globalThis.fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return url.startsWith(ORIGIN) ? s.w.mf.dispatchFetch(url, { ...init, redirect: "manual" }) : realFetch(input, init);
  };
  console.log = (...args) => printed.push(args);
  try {
    const run = import(pathToFileURL(file).href);
    // The frontend's part: once the example attached the server, alice consents.
    const server = await eventually(async () => {
      const r = await s.w.admin("/ai/agents/agent-1/mcp-servers");
      return r.json?.items?.[0];
    }, 30000, "the example's server");
    const ticket = await ticketFor(s.w, "alice", ["agent-1"]);
    const page = await callback(s.w, await consentParams(s.w, ticket, "agent-1", server.id));
    assert.equal(page.status, 200, page.text);
    await run;
  } finally {
    globalThis.fetch = realFetch;
    console.log = realLog;
  }
  assert.deepEqual(printed.at(-1), [["echo", "whoami"]]);
});
