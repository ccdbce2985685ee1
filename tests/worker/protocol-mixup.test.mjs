// Mix-up (RFC 9700 §4.4.2; issue 9 item 1) with two real providers: a malicious MCP server
// whose authorization server claims no `iss` support bounces the person's browser to an honest
// provider with the honest server's client, keeping its own state and PKCE challenge. The
// honest provider's answer arrives at the honest server's own redirect URI (`?s=<server id>`),
// so the Worker refuses it before any code reaches the malicious token endpoint.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { authorizeByHttp, startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";
import { ORIGIN, startWorker } from "./harness.mjs";
import { CONFIDENTIAL, attach, callback, count, pageCode, startedFlow, status, ticketFor } from "./scenario.mjs";

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test("a response bounced through another server's client is refused; its code goes nowhere", async () => {
  const asH = await startAuthServer();
  const asM = await startAuthServer();
  const mcpH = await startMcpServer({ issuer: asH.issuer });
  const mcpM = await startMcpServer({ issuer: asM.issuer });
  const w = await startWorker();
  cleanups.push(() => w.close(), () => mcpH.close(), () => mcpM.close(), () => asH.close(), () => asM.close());
  const create = async (name, endpoint) => {
    const r = await w.admin("/ai/mcp-servers", { method: "POST", body: { name, config: { endpoint, auth: { type: CONFIDENTIAL } } } });
    assert.equal(r.status, 201, r.text);
    await attach(w, "agent-x", r.json.server.id);
    return r.json.server;
  };
  const H = await create("honest", mcpH.endpoint);
  const M = await create("malicious", mcpM.endpoint);
  assert.equal(H.provider.redirect_uri, `${ORIGIN}/service/mcp/consent/callback?s=${H.id}`);
  assert.equal(M.provider.redirect_uri, `${ORIGIN}/service/mcp/consent/callback?s=${M.id}`);
  // The malicious server's provider claims no RFC 9207 support.
  await w.db
    .prepare("UPDATE servers SET provider = json_set(provider, '$.authorization_response_iss_parameter_supported', json('false')) WHERE id = ?1")
    .bind(M.id)
    .run();
  // Token requests that reach the malicious provider.
  let atM = 0;
  for (const event of ["grant.success", "grant.error"]) asM.provider.on(event, () => (atM += 1));

  const ticket = await ticketFor(w, "alice", ["agent-x"]);
  /** The person starts connecting M; M's provider bounces them to H's provider. */
  const bounce = async () => {
    const { providerUrl } = await startedFlow(w, ticket, "agent-x", M.id);
    const m = new URL(providerUrl).searchParams;
    const h = new URL(H.config.auth.auth_url);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: H.config.auth.client_id,
      redirect_uri: H.provider.redirect_uri,
      state: m.get("state"),
      code_challenge: m.get("code_challenge"),
      code_challenge_method: "S256",
      scope: "mcp:tools",
      resource: mcpH.endpoint,
    })) {
      h.searchParams.set(k, v);
    }
    const back = new URL(await authorizeByHttp(h.href));
    assert.equal(back.searchParams.get("s"), H.id, "the honest provider answers at H's redirect URI");
    assert.ok(back.searchParams.get("code"));
    // An honest provider without RFC 9207 would send no iss.
    back.searchParams.delete("iss");
    return back.searchParams;
  };

  // What a shared callback URL would have done (the state names M's flow): the honest code
  // goes to M's token endpoint. Shown by forging s as M's.
  const forged = await bounce();
  forged.set("s", M.id);
  const leak = await callback(w, forged);
  assert.equal(leak.status, 400);
  assert.equal(pageCode(leak), "token_exchange_failed");
  assert.equal(atM, 1, "without the per-server redirect URI the code reaches M's provider");

  // The real answer, at H's redirect URI: refused before any exchange.
  const real = await bounce();
  const r = await callback(w, real);
  assert.equal(r.status, 400, r.text);
  assert.equal(pageCode(r), "invalid_state");
  assert.equal(atM, 1, "nothing more reached M's provider");
  assert.equal(await count(w, "connections"), 0);
  assert.equal(await status(w, ticket, "agent-x", M.id), "not_connected");
  assert.equal(await status(w, ticket, "agent-x", H.id), "not_connected");
});
