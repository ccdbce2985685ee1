// Node.js (>= 20) entry: reads the wasm file next to this one and instantiates it before any
// export is used (top-level await), so no init() call is needed.
import { readFile } from "node:fs/promises";
import init from "./wasm/mcp_authlink.js";

await init({ module_or_path: await readFile(new URL("./wasm/mcp_authlink_bg.wasm", import.meta.url)) });

export * from "./core.js";
