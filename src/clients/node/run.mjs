// Runs a TypeScript file of the Node client (an example, your script) without a build step:
//   node src/clients/node/run.mjs src/clients/node/examples/diagnostics.ts
// It bundles the file with esbuild into build/node/ (inside the repo, so node_modules resolve).
import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const entry = process.argv[2];
if (!entry) {
  console.error("usage: node src/clients/node/run.mjs FILE.ts [args...]");
  process.exit(2);
}
const outfile = path.join(root, "build/node", path.basename(entry).replace(/\.ts$/, ".mjs"));
await build({
  entryPoints: [path.resolve(entry)],
  bundle: true,
  platform: "node",
  format: "esm",
  packages: "external",
  outfile,
  logLevel: "warning",
});
process.argv.splice(1, 2, outfile);
await import(pathToFileURL(outfile).href);
