// SPDX-License-Identifier: MIT
// Validate one .glb/.gltf with the Khronos glTF Validator and print its JSON report on stdout.
// Usage: node tests/gltf_validate.mjs FILE   (external .bin/images are read beside the file)
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const here = path.dirname(new URL(import.meta.url).pathname);
const validator = require(path.join(here, "..", "tools", "node", "node_modules", "gltf-validator"));

const file = process.argv[2];
if (!file) {
  console.error("usage: node tests/gltf_validate.mjs FILE.glb|FILE.gltf");
  process.exit(2);
}
const dir = path.dirname(file);
const bytes = new Uint8Array(await readFile(file));
const report = await validator.validateBytes(bytes, {
  uri: path.basename(file),
  maxIssues: 0,
  externalResourceFunction: async (uri) =>
    new Uint8Array(await readFile(path.join(dir, decodeURIComponent(uri)))),
});
process.stdout.write(JSON.stringify(report));
