// Compiled with `tsc --noEmit --strict` against the packed package's index.d.ts: the
// declarations describe the real shapes (a wrong field or a missing null check fails here).
import {
  buildAuthorizationUrl,
  discover,
  generatePkce,
  hydrateServerConfig,
  McpAuthlinkError,
  parseWwwAuthenticate,
  recommendAuthMode,
  registrationMethods,
  validateServerConfig,
  type AuthMode,
  type ConfigError,
  type DiscoveryResult,
  type ErrorCode,
  type ServerConfig,
  type TraceEntry,
} from "mcp-authlink";

async function main(): Promise<void> {
  const steps: TraceEntry[] = [];
  let result: DiscoveryResult;
  try {
    result = await discover("https://mcp.example.com/mcp", {
      timeoutMs: 5000,
      onStep: (e) => steps.push(e),
      signal: AbortSignal.timeout(10_000),
      fetch: (input, init) => fetch(input, init),
    });
  } catch (e) {
    if (e instanceof McpAuthlinkError) {
      const code: ErrorCode = e.code;
      console.log(code, e.message);
    }
    return;
  }
  const mode: AuthMode | null = result.recommended_auth_mode;
  const tokenUrl: string | null = result.token_url;
  const firstWarning = result.warnings[0]?.code;
  console.log(mode, tokenUrl?.length, firstWarning, result.evidence.prm, result.trace[0]?.outcome);

  const rec = recommendAuthMode({ requires_auth: true });
  console.log(rec.mode, rec.message);

  const challenge = parseWwwAuthenticate('Bearer realm="x"').challenges[0];
  console.log(challenge?.scheme, challenge?.params["realm"], challenge?.token68);

  const pkce = generatePkce();
  const url: string = buildAuthorizationUrl({
    auth_url: "https://as.example/authorize",
    client_id: "c",
    redirect_uri: "https://app.example/cb",
    state: "s",
    code_challenge: pkce.code_challenge,
    resource: "https://mcp.example.com/mcp",
  });
  console.log(url);

  const v = validateServerConfig({ name: "x", config: { endpoint: "https://mcp.example.com/mcp" } });
  if (v.ok) {
    const config: ServerConfig = hydrateServerConfig(v.value.config, result);
    if (config.auth?.type === "oauth_client_credentials") console.log(config.auth.client_secret?.length ?? config.auth.private_key);
  } else {
    const errors: ConfigError[] = v.errors;
    console.log(errors.map((e) => `${e.path}: ${e.code}`));
  }
  console.log(registrationMethods(result).join(","));
}

void main();

// The runtime client and the React hook (their own entries, no wasm).
import { McpAuthlinkClient, McpAuthlinkError as ClientError, type ConnectOutcome, type RuntimeServer } from "mcp-authlink/client";
import { useAgentMcpServers } from "mcp-authlink/react";

async function runtime(): Promise<void> {
  const client = new McpAuthlinkClient({
    baseUrl: "https://authlink.example.com",
    getTicket: () => fetch("/api/mcp-ticket").then((r) => r.text()),
  });
  const servers: RuntimeServer[] = await client.listServers("agent-1");
  const first = servers[0];
  if (first && first.connection_status === "not_connected") {
    try {
      const outcome: ConnectOutcome = await client.connect("agent-1", first.id, { mode: "popup", signal: AbortSignal.timeout(60_000) });
      console.log(outcome.status === "connected", outcome.flow_id?.length);
    } catch (e) {
      if (e instanceof ClientError && e.code === "popup_blocked") {
        await client.connect("agent-1", first.id, { mode: "redirect", returnTo: "https://app.example/agents" });
      }
    }
  }
  console.log(first?.error?.code, first?.expires_at?.length, first?.required_scopes?.join(" "));
  const off = client.subscribe("agent-1", (list, snapshot) => console.log(list.length, snapshot.loading, snapshot.error?.message));
  off();
  const done = await client.completeRedirect();
  if (done) console.log(done.server_id);
  await client.disconnect("agent-1", "srv");
  const edge = await discover("https://mcp.example.com/mcp", { edge: client, blockPrivate: true });
  const where: "browser" | "edge" = edge.via;
  console.log(where);

  const hook = useAgentMcpServers(client, "agent-1");
  const connected = hook.servers.filter((s) => s.connection_status === "connected" || s.connection_status === "connecting");
  console.log(connected.length, hook.loading, hook.error?.code);
  await hook.connect("srv", { mode: "redirect" });
  await hook.disconnect("srv");
  const again: RuntimeServer[] = await hook.refresh();
  console.log(again.length);
}

void runtime();

// The main entry does not export the client (it lives in its own entry, without wasm).
// @ts-expect-error McpAuthlinkClient is not exported by "mcp-authlink"
import { McpAuthlinkClient as NotHere } from "mcp-authlink";
console.log(NotHere);
