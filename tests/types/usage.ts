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
