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
  | "blocked_target"
  | ClientErrorCode;

/** Stable codes of the runtime client's outcomes (browser.md §2). */
export type ClientErrorCode =
  | "consent_denied"
  | "consent_cancelled"
  | "popup_blocked"
  | "consent_expired"
  | "invalid_ticket"
  | "agent_not_in_scope"
  | "not_attached"
  | "network"
  | "aborted"
  /** The consent failed at the Worker for another reason (its message says which). */
  | "consent_failed"
  | WorkerErrorCode;

/** Codes the Worker's runtime plane answers with, passed through as given. */
export type WorkerErrorCode =
  | "return_to_not_allowed"
  | "pkce_not_advertised"
  | "rate_limited"
  | "invalid_json"
  | "invalid_request"
  | "invalid_value"
  | "body_too_large"
  | "not_configured"
  | "not_found"
  | "internal_error"
  /** An answer without the Worker's error body. */
  | `http_${number}`;

/** Every error thrown or rejected by this package. */
export class McpAuthlinkError extends Error {
  readonly name: "McpAuthlinkError";
  readonly code: ErrorCode;
  /** The HTTP status, when the Worker answered. */
  readonly status?: number;
  /** The server a failed connect was for. */
  readonly serverId?: string;
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
  /**
   * Refuse private, loopback, link-local and metadata addresses (`blocked_target`). Default:
   * on in Node unless `allowHttp` is true, off elsewhere. It judges the URL, not what a host
   * name resolves to: see the README before running discovery on user input in a backend.
   */
  blockPrivate?: boolean;
  /**
   * When the browser cannot read an answer (a CORS refusal shows as a network error), run the
   * whole discovery again at the Worker through this client.
   */
  edge?: EdgeDiscovery;
}

/** What `discover` needs of the runtime client (mcp-authlink/client) to run at the Worker. */
export interface EdgeDiscovery {
  discoverAtEdge(endpoint: string, options?: { signal?: AbortSignal }): Promise<DiscoveryResult>;
}

/** Where a discovery ran: in this runtime, or at the Worker through `options.edge`. */
export type DiscoveryVia = "browser" | "edge";

/** Rejects with McpAuthlinkError: invalid_endpoint, unreachable, blocked_target, aborted. */
export function discover(endpoint: string | URL, options?: DiscoverOptions): Promise<DiscoveryResult & { via: DiscoveryVia }>;

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

// ---- the runtime client's shapes (mcp-authlink/client, browser.md §2; the class is declared in
// client.d.ts because only that entry exports it) -----------------------------------------------

export type ConnectionStatus = "ready" | "not_connected" | "connecting" | "connected" | "needs_consent" | "expired";

/** A server attached to an agent, as the runtime plane lists it for the ticket's actor. */
export interface RuntimeServer {
  id: string;
  name: string;
  endpoint: string;
  auth_type: AuthMode | null;
  requires_user_connection: boolean;
  connection_status: ConnectionStatus;
  connected_at: string | null;
  expires_at: string | null;
  /** With `needs_consent`: the scopes a new consent must grant. */
  required_scopes?: string[];
  /** The last failed connect's error, cleared by the next try (null when none). */
  error: { code: ErrorCode; message: string } | null;
}

export interface AgentServersSnapshot {
  readonly servers: readonly RuntimeServer[];
  /** True until the first list arrives (and while rendering on the server). */
  readonly loading: boolean;
  /** Why the last list failed, or null. */
  readonly error: { code: ErrorCode; message: string } | null;
}

export type TicketSource = () => string | { ticket: string } | Promise<string | { ticket: string }>;

export interface McpAuthlinkClientOptions {
  /** The Worker's URL. */
  baseUrl: string;
  /** Your backend's session ticket for the signed-in person; called again on 401 invalid_ticket. */
  getTicket: TicketSource;
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

export interface ConnectOptions {
  /** "popup" (default): a window opened inside the user's gesture; "redirect": this page goes to the provider and back. */
  mode?: "popup" | "redirect";
  /** Redirect mode: where the browser comes back to (an allowed origin); default this page without its fragment. */
  returnTo?: string;
  signal?: AbortSignal;
}

export interface ConnectOutcome {
  /** "ready": the server needs no consent; "redirecting": redirect mode left the page. */
  status: "connected" | "ready" | "redirecting";
  server_id: string;
  flow_id?: string;
}
