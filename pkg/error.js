// The package's one error type, in a module of its own so that the runtime client (which
// imports no wasm) and the core's wrappers throw the same class.

/** An error with a stable `code` (see index.d.ts for the list). */
export class McpAuthlinkError extends Error {
  /**
   * @param {string} code stable, machine-readable
   * @param {string} message one sentence a person can act on
   * @param {{status?: number, serverId?: string}} [detail]
   */
  constructor(code, message, detail) {
    super(message);
    this.name = "McpAuthlinkError";
    this.code = code;
    if (detail?.status !== undefined) this.status = detail.status;
    if (detail?.serverId !== undefined) this.serverId = detail.serverId;
  }
}
