// Loads the fixtures: the shared ones (../shared/fixtures, read-only), then the project's own
// (tests/fixtures). Each gets its `file` path.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Every discovery fixture. */
export function discoveryFixtures() {
  return fixtureDir("discovery");
}

/** Every config vector. */
export function configVectors() {
  return fixtureDir("config");
}

function fixtureDir(kind) {
  const out = [];
  for (const dir of [join(root, "..", "shared", "fixtures", kind), join(root, "tests", "fixtures", kind)]) {
    let names = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
    } catch {
      continue;
    }
    for (const n of names) out.push({ file: join(dir, n), ...JSON.parse(readFileSync(join(dir, n), "utf8")) });
  }
  return out;
}
