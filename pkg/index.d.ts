// Types of the mcp-authlink npm package. Returned objects keep the HTTP API's snake_case
// field names so that one type serves both.

export type AuthMode =
  | "oauth_authorization_code_public_pkce"
  | "oauth_authorization_code_confidential_pkce"
  | "oauth_client_credentials"
  | "token";

export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "none";

/** Stable codes of `McpAuthlinkError`. */
export type ErrorCode =
  | "invalid_endpoint"
  | "unreachable"
  | "aborted"
  | "invalid_verifier"
  | "invalid_argument"
  | "invalid_response"
  | "oauth_error"
  | "registration_failed"
  | "registration_unavailable"
  | "blocked_target";

/** Every error thrown or rejected by this package. */
export class McpAuthlinkError extends Error {
  readonly name: "McpAuthlinkError";
  readonly code: ErrorCode;
}

export type WarningCode =
  | "challenge_on_success"
  | "redirected"
  | "inconclusive"
  | "endpoint_not_found"
  | "malformed_challenge"
  | "duplicate_param"
  | "network_error"
  | "metadata_invalid"
  | "metadata_too_large"
  | "resource_mismatch"
  | "authorization_server_is_metadata_url"
  | "issuer_mismatch"
  | "issuer_trailing_slash"
  | "pkce_not_advertised"
  | "unsupported_client_auth"
  | "legacy_metadata"
  | "default_endpoints"
  | "too_many_authorization_servers";

export interface Warning {
  code: WarningCode;
  message: string;
  url?: string;
  status?: number;
}

export interface TraceEntry {
  method: "GET" | "POST";
  url: string;
  /** null when no response arrived (or for a browser's opaque redirect). */
  status: number | null;
  ms: number;
  outcome: "used" | "skipped" | "network_error" | "timeout";
}

export interface Evidence {
  prm: "usable" | "unusable" | "none";
  authorization_server: "usable" | "rejected" | "unreachable" | "none";
}

export interface DiscoveryResult {
  requires_auth: boolean;
  recommended_auth_mode: AuthMode | null;
  /** authorization_endpoint */
  auth_url: string | null;
  /** token_endpoint */
  token_url: string | null;
  /** registration_endpoint */
  register_url: string | null;
  /** The protected resource metadata URL that was used. */
  resource_metadata_url: string | null;
  resource: string | null;
  /** Challenge scope, else the PRM's scopes_supported, else []. */
  scopes: string[];
  /** As advertised; [] when absent. */
  token_endpoint_auth_methods_supported: string[];
  authorization_servers: string[];
  /** One sentence a person can act on. */
  message: string;
  issuer: string | null;
  pkce_s256_supported: boolean | null;
  client_id_metadata_document_supported: boolean;
  grant_types_supported: string[];
  authorization_response_iss_parameter_supported: boolean;
  /** The authorization server lists `offline_access` in `scopes_supported` (discovery.md §8). */
  offline_access_supported: boolean;
  evidence: Evidence;
  warnings: Warning[];
  trace: TraceEntry[];
}

export interface DiscoverOptions {
  /** Replaces the global fetch (same signature). */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Bound on each request, default 8000. */
  timeoutMs?: number;
  /** Permit http: URLs other than loopback (default false). */
  allowHttp?: boolean;
  /** Use authorization server metadata whose issuer differs (still warned). */
  allowIssuerMismatch?: boolean;
  /** Called after each request with its trace entry. */
  onStep?: (entry: TraceEntry) => void;
  signal?: AbortSignal;
}

/** Rejects with McpAuthlinkError: invalid_endpoint, unreachable, aborted. */
export function discover(endpoint: string | URL, options?: DiscoverOptions): Promise<DiscoveryResult>;

export interface Challenge {
  /** As written. */
  scheme: string;
  /** Lower-cased names. */
  params: Record<string, string>;
  token68: string | null;
}

export interface ParsedChallenges {
  challenges: Challenge[];
  warnings: Warning[];
}

/** Never throws. */
export function parseWwwAuthenticate(header: string): ParsedChallenges;

export interface Recommendation {
  mode: AuthMode | null;
  message: string;
}

export function recommendAuthMode(result: Partial<DiscoveryResult>): Recommendation;

export interface Pkce {
  code_verifier: string;
  code_challenge: string;
  code_challenge_method: "S256";
}

export function generatePkce(): Pkce;

/** Throws invalid_verifier outside RFC 7636's alphabet or length (43..128). */
export function pkceChallenge(verifier: string): string;

export function generateState(): string;

export interface AuthorizationUrlParams {
  auth_url: string;
  client_id: string;
  redirect_uri: string;
  state: string;
  code_challenge: string;
  scopes?: string[];
  resource: string;
}

/** Throws invalid_argument naming the field at fault. */
export function buildAuthorizationUrl(params: AuthorizationUrlParams): string;

interface OAuthFlags {
  allow_issuer_mismatch?: boolean;
}

export interface TokenAuth {
  type: "token";
  auth_token: string;
}

export interface ClientCredentialsAuth extends OAuthFlags {
  type: "oauth_client_credentials";
  client_id: string;
  /** Required unless the client authenticates with private_key_jwt. */
  client_secret?: string;
  /** private_key_jwt (RFC 7523): a P-256 private key as a PKCS#8 PEM, or a JWK. */
  private_key?: string | Record<string, unknown>;
  signing_algorithm?: "ES256";
  /** Required after hydration. */
  token_url?: string;
  scopes?: string[];
  resource?: string;
  token_endpoint_auth_method?: "client_secret_basic" | "client_secret_post" | "private_key_jwt";
}

export interface PublicPkceAuth extends OAuthFlags {
  type: "oauth_authorization_code_public_pkce";
  /** Omitted: register by DCR. */
  client_id?: string;
  auth_url?: string;
  token_url?: string;
  register_url?: string;
  scopes?: string[];
  resource?: string;
  allow_unadvertised_pkce?: boolean;
}

export interface ConfidentialPkceAuth extends OAuthFlags {
  type: "oauth_authorization_code_confidential_pkce";
  /** client_id and client_secret both omitted: register by DCR. */
  client_id?: string;
  client_secret?: string;
  auth_url?: string;
  token_url?: string;
  register_url?: string;
  scopes?: string[];
  resource?: string;
  token_endpoint_auth_method?: ClientAuthMethod;
  allow_unadvertised_pkce?: boolean;
}

export type AuthConfig = TokenAuth | ClientCredentialsAuth | PublicPkceAuth | ConfidentialPkceAuth;

export interface ServerConfig {
  endpoint: string;
  /** Sent on every MCP call. */
  headers?: Record<string, string>;
  /** Absent: no auth. */
  auth?: AuthConfig;
}

export interface ServerConfigBody {
  name: string;
  config: ServerConfig;
}

export type ConfigErrorCode =
  | "use_endpoint"
  | "auth_not_nested"
  | "unknown_auth_type"
  | "required"
  | "unknown_field"
  | "invalid_type"
  | "invalid_value"
  | "invalid_url"
  | "insecure_url";

export interface ConfigError {
  /** Dotted, with [n] for array items: "config.auth.scopes[0]". */
  path: string;
  code: ConfigErrorCode;
  /** Names the fix. */
  message: string;
}

export type ValidationResult = { ok: true; value: ServerConfigBody } | { ok: false; errors: ConfigError[] };

/** Lists every problem, not just the first. */
export function validateServerConfig(input: unknown): ValidationResult;

/** Fills missing auth_url, token_url, register_url, resource, scopes; never overwrites. */
export function hydrateServerConfig(config: ServerConfig, discovery: DiscoveryResult): ServerConfig;

/** discovery.md §7: the DCR methods to try, in order. */
export function registrationMethods(discovery: DiscoveryResult): ClientAuthMethod[];
