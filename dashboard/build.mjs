// SPDX-License-Identifier: MIT
// Bundles the dashboard (plain JS + three.js, no framework) into the Python package:
// server/trellis2_server/http/static/{index.html, assets/app.js, assets/app.css} (+ .gz twins).
// Run through scripts/build-dashboard.sh. Output is reproducible for a given package-lock.json.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, "..", "server", "trellis2_server", "http", "static");
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

await build({
  entryPoints: { app: join(here, "src", "main.js") },
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2022"],
  legalComments: "eof",
  outdir: join(out, "assets"),
  logLevel: "warning",
});
await build({
  entryPoints: { app: join(here, "src", "style.css") },
  bundle: true,
  minify: true,
  outdir: join(out, "assets"),
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
for (const name of ["assets/app.js", "assets/app.css"]) {
  const path = join(out, name);
  writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
}
