// A real MCP server for end-to-end tests: the reference SDK's McpServer over Streamable HTTP
// (stateless: one server and transport per request), protected by the SDK's bearer-auth
// middleware, listening on a loopback address only.
//
//   const mcp = await startMcpServer({ issuer: as.issuer });
//   mcp.endpoint  // "http://127.0.0.1:<port>/mcp", also the RFC 8707 resource (mcp.resource)
//   await mcp.close();
//
// - Every method on the endpoint needs `Authorization: Bearer <JWT>`; without a valid one the
//   answer is 401 with `WWW-Authenticate: Bearer error="invalid_token", ..., scope="mcp:tools",
//   resource_metadata="<origin>/.well-known/oauth-protected-resource/mcp"` (a token lacking the
//   required scope gets 403 insufficient_scope).
// - Access tokens are verified locally against the authorization server's JWKS: RS256/ES256
//   signature, typ at+jwt (RFC 9068), `iss` = issuer, `aud` = the endpoint URL, `exp`.
// - RFC 9728 metadata at /.well-known/oauth-protected-resource<path> (resource = endpoint,
//   authorization_servers = [issuer], scopes_supported = ["mcp:tools"]), served by the SDK's
//   mcpAuthMetadataRouter, which also mirrors the issuer's RFC 8414 metadata at this origin's
//   /.well-known/oauth-authorization-server (that is what the SDK does; clients that follow the
//   PRM never need it).
// - Tools: `echo` ({text}) returns the text; `whoami` returns the token's sub, client_id,
//   scopes and aud as JSON text (to tell whose token reached the server).

import cors from "cors";
import { createServer } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { mcpAuthMetadataRouter, getOAuthProtectedResourceMetadataUrl } from "@modelcontextprotocol/sdk/server/auth/router.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { closeServer } from "./auth-server.mjs";

const SCOPES = ["mcp:tools"];

/**
 * Starts the MCP server. The authorization server must already be running: its metadata and
 * keys are fetched from it.
 * @param {object} options
 * @param {string} options.issuer the authorization server's issuer identifier.
 * @param {number} [options.port=0] TCP port; 0 picks a free one.
 * @param {string} [options.host="127.0.0.1"] loopback address to bind and to name the endpoint.
 * @param {string} [options.path="/mcp"] the MCP endpoint's path.
 * @param {string[]} [options.requiredScopes=["mcp:tools"]] scopes a token must carry ([] for none).
 * @param {boolean} [options.jsonResponse=false] answer POSTs with JSON instead of an SSE stream.
 * @returns {Promise<{endpoint: string, resource: string, resourceMetadataUrl: string, issuer: string, close: () => Promise<void>}>}
 */
export async function startMcpServer({
  issuer,
  port = 0,
  host = "127.0.0.1",
  path = "/mcp",
  requiredScopes = SCOPES,
  jsonResponse = false,
} = {}) {
  if (!issuer) throw new Error("startMcpServer: issuer is required");
  const oauthMetadata = await fetchAuthorizationServerMetadata(issuer);

  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server.off("error", reject)));
  });
  const hostInUrl = host.includes(":") ? `[${host}]` : host;
  const resourceServerUrl = new URL(`http://${hostInUrl}:${server.address().port}${path}`);
  const endpoint = resourceServerUrl.href;
  const resourceMetadataUrl = getOAuthProtectedResourceMetadataUrl(resourceServerUrl);

  const verifier = jwtVerifier({ issuer, audience: endpoint, jwksUri: oauthMetadata.jwks_uri });
  const bearerAuth = requireBearerAuth({
    verifier,
    requiredScopes,
    resourceMetadataUrl,
    expectedResource: resourceServerUrl,
  });

  const app = createMcpExpressApp({ host });
  // Browser clients (the npm package's discover in a page) need CORS, and must be able to
  // read the challenge.
  app.use(cors({ exposedHeaders: ["WWW-Authenticate", "Mcp-Session-Id"], maxAge: 600 }));
  app.use(
    mcpAuthMetadataRouter({
      oauthMetadata,
      resourceServerUrl,
      scopesSupported: SCOPES,
      resourceName: "mcp-authlink test MCP server",
    }),
  );
  app.all(resourceServerUrl.pathname, bearerAuth, async (req, res) => {
    const mcp = buildMcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: jsonResponse });
    res.on("close", () => {
      transport.close();
      mcp.close();
    });
    try {
      await mcp.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (error) {
      console.error(`mcp-server: ${error?.stack ?? error}`);
      if (!res.headersSent) {
        res.status(500).json({ jsonrpc: "2.0", error: { code: -32603, message: "Internal error" }, id: null });
      }
    }
  });
  server.on("request", app);

  return {
    endpoint,
    resource: endpoint,
    resourceMetadataUrl,
    issuer,
    close: () => closeServer(server),
  };
}

// RFC 8414 §3.1: the well-known segment goes between the origin and the issuer's path.
async function fetchAuthorizationServerMetadata(issuer) {
  const { origin, pathname } = new URL(issuer);
  const suffix = pathname === "/" ? "" : pathname.replace(/\/$/, "");
  const url = `${origin}/.well-known/oauth-authorization-server${suffix}`;
  const response = await fetch(url, { headers: { accept: "application/json" } });
  if (response.status !== 200) throw new Error(`startMcpServer: ${url} answered ${response.status}`);
  const metadata = await response.json();
  if (metadata.issuer !== issuer) {
    throw new Error(`startMcpServer: metadata at ${url} names issuer ${metadata.issuer}, expected ${issuer}`);
  }
  if (!metadata.jwks_uri) throw new Error(`startMcpServer: metadata at ${url} has no jwks_uri`);
  return metadata;
}

// The SDK's OAuthTokenVerifier, backed by jose: any verification failure is an invalid token.
function jwtVerifier({ issuer, audience, jwksUri }) {
  const keys = createRemoteJWKSet(new URL(jwksUri));
  return {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer,
          audience,
          typ: "at+jwt",
          algorithms: ["RS256", "PS256", "ES256"],
          requiredClaims: ["exp", "sub", "client_id"],
        }));
      } catch (error) {
        throw new InvalidTokenError(`Token rejected: ${error.code ?? error.message}`);
      }
      return {
        token,
        clientId: payload.client_id,
        scopes: typeof payload.scope === "string" ? payload.scope.split(" ").filter(Boolean) : [],
        expiresAt: payload.exp,
        resource: new URL([payload.aud].flat().find((aud) => aud === audience)),
        extra: { sub: payload.sub, aud: payload.aud },
      };
    },
  };
}

function buildMcpServer() {
  const mcp = new McpServer({ name: "mcp-authlink-test-server", version: "1.0.0" });
  mcp.registerTool(
    "echo",
    {
      description: "Returns the given text unchanged.",
      inputSchema: { text: z.string() },
    },
    async ({ text }) => ({ content: [{ type: "text", text }] }),
  );
  mcp.registerTool(
    "whoami",
    { description: "Describes the access token this request carried." },
    // A tool without inputSchema gets only the request context.
    async ({ authInfo }) => ({
      content: [
        {
          type: "text",
          text: JSON.stringify({
            sub: authInfo?.extra?.sub ?? null,
            client_id: authInfo?.clientId ?? null,
            scopes: authInfo?.scopes ?? [],
            aud: authInfo?.extra?.aud ?? null,
          }),
        },
      ],
    }),
  );
  return mcp;
}
