// Every discovery fixture served over real HTTP on 127.0.0.1 and discovered with Node's own
// global fetch: the package's fetch adapter against a real network stack.
import assert from "node:assert/strict";
import { test } from "node:test";
import { discover } from "mcp-authlink";
import { serveFixture } from "./fixture-server.mjs";
import { discoveryFixtures } from "./fixtures.mjs";
import { checkExpectations } from "./replay.mjs";

for (const original of discoveryFixtures()) {
  test(`live fixture ${original.name}`, async () => {
    const { fixture, close } = await serveFixture(original);
    try {
      const run = discover(fixture.endpoint, { timeoutMs: 3000, allowIssuerMismatch: fixture.allow_issuer_mismatch === true, blockPrivate: false });
      if (fixture.expect_error) {
        await assert.rejects(run, { code: fixture.expect_error });
      } else {
        assert.deepEqual(checkExpectations(fixture, await run), []);
      }
    } finally {
      await close();
    }
  });
}
