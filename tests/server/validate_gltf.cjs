// SPDX-License-Identifier: MIT
// Validates glTF/GLB files with the Khronos glTF Validator (npm gltf-validator) and prints one
// JSON line per file: {file, errors, warnings, messages}. Usage: node validate_gltf.cjs FILE...
const fs = require("fs");
const path = require("path");
const validator = require("gltf-validator");

async function validate(file) {
  const data = fs.readFileSync(file);
  const report = await validator.validateBytes(new Uint8Array(data), {
    uri: path.basename(file),
    maxIssues: 50,
    externalResourceFunction: (uri) =>
      fs.promises.readFile(path.resolve(path.dirname(file), decodeURIComponent(uri))),
  });
  const issues = report.issues;
  return {
    file,
    errors: issues.numErrors,
    warnings: issues.numWarnings,
    messages: issues.messages.filter((m) => m.severity === 0).slice(0, 10),
  };
}

(async () => {
  for (const file of process.argv.slice(2)) {
    console.log(JSON.stringify(await validate(file)));
  }
})().catch((err) => {
  console.error(String(err));
  process.exit(2);
});
