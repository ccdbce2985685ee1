// The package in workerd (the Workers runtime), through miniflare: the `workerd` export
// condition, the statically imported wasm module, and workerd's own fetch.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { serveFixture } from "./fixture-server.mjs";
import { discoveryFixtures, root } from "./fixtures.mjs";

const out = join(root, "build", "workerd-test");
let mf;

before(async () => {
  mkdirSync(join(out, "wasm"), { recursive: true });
  await build({
    entryPoints: [join(root, "tests", "node", "workerd-worker.mjs")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    external: ["*.wasm"],
    outfile: join(out, "worker.js"),
    logLevel: "error",
  });
  copyFileSync(join(root, "node_modules", "mcp-authlink", "wasm", "mcp_authlink_bg.wasm"), join(out, "wasm", "mcp_authlink_bg.wasm"));
  mf = new Miniflare({
    modulesRoot: out,
    modules: [
      { type: "ESModule", path: join(out, "worker.js") },
      { type: "CompiledWasm", path: join(out, "wasm", "mcp_authlink_bg.wasm") },
    ],
    compatibilityDate: "2026-07-30",
  });
  await mf.ready;
});

after(() => mf?.dispose());

async function call(body) {
  const res = await mf.dispatchFetch("http://worker.test/", { method: "POST", body: JSON.stringify(body) });
  return res.json();
}

test("the package loads in workerd with no init() call", async () => {
  const r = await call({ op: "api" });
  assert.match(r.pkce.code_verifier, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(r.config.ok, true);
});

for (const fixture of discoveryFixtures()) {
  test(`workerd replay ${fixture.name}`, async () => {
    const r = await call({ fixture });
    if (fixture.expect_error) {
      assert.equal(r.error?.code, fixture.expect_error);
      assert.equal(r.error.isError, true);
    } else {
      assert.deepEqual(r.problems, [], JSON.stringify(r.error));
    }
  });
}

test("workerd's own fetch, against fixtures served on 127.0.0.1", async () => {
  for (const name of ["linear-prm-via-challenge", "legacy-sse-405-get-retry-own-as", "google-as-cors-failure-then-openid-configuration"]) {
    const { fixture, close } = await serveFixture(discoveryFixtures().find((f) => f.name === name));
    try {
      const r = await call({ fixture, live: true });
      assert.deepEqual(r.problems, [], `${name}: ${JSON.stringify(r.error ?? r.result?.warnings)}`);
    } finally {
      await close();
    }
  }
});
