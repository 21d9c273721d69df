// Parse each AsyncAPI document given on the command line with the official parser; print, as JSON, every
// diagnostic of severity error (0) or warning (1), per file. Exit 1 when any document has an error.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
const report = {};
let failed = false;
for (const path of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"), { source: path });
  const shown = diagnostics
    .filter((d) => d.severity <= 1)
    .map((d) => ({ severity: d.severity === 0 ? "error" : "warning", code: d.code, path: d.path.join("."), message: d.message }));
  const errors = shown.filter((d) => d.severity === "error");
  if (!document || errors.length) failed = true;
  report[path] = shown;
}
console.log(JSON.stringify(report, null, 1));
process.exit(failed ? 1 : 0);
