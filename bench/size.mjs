// Size of the npm package as shipped: every file of the packed tarball (unpacked by `make pkg`
// into node_modules/mcp-authlink), raw and gzip -9, plus the tarball itself. Methodology:
// bench/README.md.
//
//   node bench/size.mjs            (or `make bench`)
//
// Prints a Markdown table and pass/fail against the gzip budget; writes build/bench-size.json.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { constants, gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PKG = join(root, "node_modules", "mcp-authlink");
const BUILD = join(root, "build");
const OUT = join(BUILD, "bench-size.json");
// bytes, gzip -9 of what runs: the JS files and each distinct wasm file once (the issue's
// definition); types, package.json and the readme are listed but not counted against it.
const BUDGET_GZIP = 120 * 1024;

if (!existsSync(join(PKG, "package.json"))) {
  console.error("node_modules/mcp-authlink is missing: run `make pkg` first (`make bench` does).");
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8"));

// node_modules/mcp-authlink holds exactly the tarball's contents (`make pkg` empties it before
// unpacking), so its files are the shipped files. The manifest's `files` list is checked against
// them: an entry that ships nothing is reported (npm packs silently without it).
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : [relative(PKG, join(dir, d.name))],
  );
}
const shipped = walk(PKG).sort();
const listedMissing = (manifest.files ?? []).filter(
  (entry) => !shipped.some((f) => f === entry || f.startsWith(entry.replace(/\/$/, "") + "/")),
);

function kindOf(file) {
  if (file.endsWith(".wasm")) return "wasm";
  if (/\.(m|c)?js$/.test(file)) return "js";
  if (file.endsWith(".d.ts")) return "types";
  return "other";
}
const gz = (buf) => gzipSync(buf, { level: constants.Z_BEST_COMPRESSION }).length;

// Each distinct .wasm file counts once (identical copies, e.g. one per entry, are listed but
// not added again).
const seenWasm = new Map();
const rows = shipped.map((file) => {
  const buf = readFileSync(join(PKG, file));
  const kind = kindOf(file);
  let duplicateOf = null;
  if (kind === "wasm") {
    const h = createHash("sha256").update(buf).digest("hex");
    duplicateOf = seenWasm.get(h) ?? null;
    if (!duplicateOf) seenWasm.set(h, file);
  }
  return { file, kind, raw: buf.length, gzip: gz(buf), counted: duplicateOf === null, duplicate_of: duplicateOf };
});

const sum = (list, key) => list.filter((r) => r.counted).reduce((a, r) => a + r[key], 0);
// The runtime client and the React hook are entries of their own (no wasm), measured below as
// a bundle with their own budget; they are not part of what the main entry loads.
const BROWSER_ENTRY_FILES = new Set(["client.js", "react.js"]);
const runtime = rows.filter((r) => (r.kind === "js" || r.kind === "wasm") && !BROWSER_ENTRY_FILES.has(r.file));
const totals = {
  all: { raw: sum(rows, "raw"), gzip: sum(rows, "gzip") },
  runtime_js_wasm: { raw: sum(runtime, "raw"), gzip: sum(runtime, "gzip") },
};

// The tarball `npm pack` wrote for this version (the newest if the name does not match).
let tarball = null;
const tgzs = existsSync(BUILD) ? readdirSync(BUILD).filter((n) => /^mcp-authlink-.*\.tgz$/.test(n)) : [];
const tgzName =
  tgzs.find((n) => n === `mcp-authlink-${manifest.version}.tgz`) ??
  tgzs.sort((a, b) => statSync(join(BUILD, b)).mtimeMs - statSync(join(BUILD, a)).mtimeMs)[0];
if (tgzName) tarball = { file: `build/${tgzName}`, bytes: statSync(join(BUILD, tgzName)).size };

const kb = (n) => (n / 1024).toFixed(1);
const pass = totals.runtime_js_wasm.gzip < BUDGET_GZIP;
const lines = [];
lines.push(`Package size: ${manifest.name}@${manifest.version} as shipped (node_modules/mcp-authlink = the unpacked tarball)`);
lines.push("");
lines.push("| file | kind | raw bytes | gzip -9 bytes | raw KB | gzip KB |");
lines.push("|---|---|---:|---:|---:|---:|");
for (const r of rows) {
  const name = !r.counted
    ? `${r.file} (same as ${r.duplicate_of}, not counted)`
    : BROWSER_ENTRY_FILES.has(r.file)
      ? `${r.file} (client/react entry, measured below)`
      : r.file;
  lines.push(`| ${name} | ${r.kind} | ${r.raw} | ${r.gzip} | ${kb(r.raw)} | ${kb(r.gzip)} |`);
}
lines.push(
  `| **JS + wasm** | | ${totals.runtime_js_wasm.raw} | ${totals.runtime_js_wasm.gzip} | ${kb(totals.runtime_js_wasm.raw)} | ${kb(totals.runtime_js_wasm.gzip)} |`,
);
lines.push(
  `| **total (all shipped files)** | | ${totals.all.raw} | ${totals.all.gzip} | ${kb(totals.all.raw)} | ${kb(totals.all.gzip)} |`,
);
lines.push("");
lines.push(tarball ? `Tarball ${tarball.file}: ${tarball.bytes} bytes (${kb(tarball.bytes)} KB)` : "Tarball: none in build/");
lines.push(
  `Budget: JS + wasm gzip -9 < ${BUDGET_GZIP / 1024} KB: ${pass ? "PASS" : "FAIL"} ` +
    `(${kb(totals.runtime_js_wasm.gzip)} KB; all shipped files ${kb(totals.all.gzip)} KB)`,
);

// mcp-authlink/client + mcp-authlink/react as a frontend ships them: one esbuild bundle
// (minified, React external), gzip -9. Its inputs must hold no wasm and no Rust glue.
const BROWSER_BUDGET_GZIP = 8 * 1024;
const { build } = await import("esbuild");
const bundled = await build({
  stdin: {
    contents: 'export { McpAuthlinkClient, McpAuthlinkError } from "mcp-authlink/client";\nexport { useAgentMcpServers } from "mcp-authlink/react";\n',
    resolveDir: root,
    loader: "js",
  },
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  external: ["react"],
  metafile: true,
  write: false,
  logLevel: "silent",
});
const bundleText = bundled.outputFiles[0].contents;
const bundleInputs = Object.keys(bundled.metafile.inputs).filter((f) => !f.startsWith("<stdin>"));
const wasmInputs = bundleInputs.filter((f) => /\.wasm$|\/wasm\//.test(f));
const browserEntries = {
  inputs: bundleInputs.map((f) => relative(root, join(root, f))),
  raw: bundleText.length,
  gzip: gz(bundleText),
  budget_gzip_bytes: BROWSER_BUDGET_GZIP,
  wasm_inputs: wasmInputs,
  pass: gz(bundleText) < BROWSER_BUDGET_GZIP && wasmInputs.length === 0,
};
lines.push("");
lines.push("mcp-authlink/client + mcp-authlink/react, bundled by esbuild (minified, React external):");
lines.push("");
lines.push("| bundle inputs | raw bytes | gzip -9 bytes | gzip KB |");
lines.push("|---|---:|---:|---:|");
lines.push(`| ${browserEntries.inputs.join(", ")} | ${browserEntries.raw} | ${browserEntries.gzip} | ${kb(browserEntries.gzip)} |`);
lines.push(
  `Budget: < ${BROWSER_BUDGET_GZIP / 1024} KB gzip and no wasm among the inputs: ${browserEntries.pass ? "PASS" : "FAIL"} ` +
    `(${kb(browserEntries.gzip)} KB${wasmInputs.length ? `; wasm inputs: ${wasmInputs.join(", ")}` : ""})`,
);

// The Worker (make worker): what `wrangler deploy` uploads, gzipped as Cloudflare counts it.
const WORKER = join(BUILD, "worker");
let worker = null;
if (existsSync(join(WORKER, "index_bg.wasm"))) {
  const files = ["index.js", "index_bg.wasm"].map((f) => {
    const buf = readFileSync(join(WORKER, f));
    return { file: `build/worker/${f}`, raw: buf.length, gzip: gz(buf) };
  });
  worker = { files, raw: files.reduce((a, f) => a + f.raw, 0), gzip: files.reduce((a, f) => a + f.gzip, 0) };
  lines.push("");
  lines.push("Worker (build/worker, as uploaded):");
  lines.push("");
  lines.push("| file | raw bytes | gzip -9 bytes | gzip KB |");
  lines.push("|---|---:|---:|---:|");
  for (const f of files) lines.push(`| ${f.file} | ${f.raw} | ${f.gzip} | ${kb(f.gzip)} |`);
  lines.push(`| **Worker total** | ${worker.raw} | ${worker.gzip} | ${kb(worker.gzip)} |`);
}
if (listedMissing.length) {
  lines.push(`Note: listed in package.json "files" but not shipped: ${listedMissing.join(", ")}`);
}
console.log(lines.join("\n"));

mkdirSync(BUILD, { recursive: true });
writeFileSync(
  OUT,
  JSON.stringify(
    {
      benchmark: "size",
      package: manifest.name,
      version: manifest.version,
      files: rows,
      totals,
      tarball,
      budget_gzip_bytes: BUDGET_GZIP,
      pass,
      listed_but_not_shipped: listedMissing,
      browser_entries: browserEntries,
      worker,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote ${relative(root, OUT)}`);
