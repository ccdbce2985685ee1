// A test Worker that imports the package exactly as a Worker project would. Bundled with
// esbuild under the `workerd` condition (as wrangler does) and run in workerd by miniflare.
import { discover, generatePkce, validateServerConfig } from "mcp-authlink";
import { checkExpectations, replayFetch } from "./replay.mjs";

export default {
  async fetch(request) {
    const { fixture, live, op } = await request.json();
    try {
      if (op === "api") {
        return Response.json({ pkce: generatePkce(), config: validateServerConfig({ name: "x", config: { endpoint: "https://a.example/mcp" } }) });
      }
      const options = live ? { timeoutMs: 3000 } : { fetch: replayFetch(fixture).fetch, timeoutMs: 1000 };
      options.allowIssuerMismatch = fixture.allow_issuer_mismatch === true;
      const result = await discover(fixture.endpoint, options);
      return Response.json({ result, problems: checkExpectations(fixture, result) });
    } catch (e) {
      return Response.json({ error: { code: e.code, message: e.message, isError: e instanceof Error } });
    }
  },
};
