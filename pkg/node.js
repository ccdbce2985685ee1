// Node.js (>= 20) entry: reads the wasm file next to this one and instantiates it before any
// export is used (top-level await), so no init() call is needed.
import { readFile } from "node:fs/promises";
import init from "./wasm/mcp_authlink.js";
import { discover as discoverAnywhere } from "./core.js";

await init({ module_or_path: await readFile(new URL("./wasm/mcp_authlink_bg.wasm", import.meta.url)) });

export * from "./core.js";

/**
 * discover() with Node's default: a backend may run it on a URL a user typed, so private,
 * loopback, link-local and metadata addresses are refused unless `blockPrivate: false` (or
 * `allowHttp: true`, a development setting) says otherwise.
 */
export function discover(endpoint, options = {}) {
  const o = options ?? {};
  return discoverAnywhere(endpoint, { ...o, blockPrivate: o.blockPrivate ?? !o.allowHttp });
}
