// Bundles the browser client with esbuild.
//   node src/clients/web/build.mjs         the dashboard -> src/server/gateway/static/app.js (committed)
//   node src/clients/web/build.mjs --lib   also the library -> build/web/realtime-web.js (ESM)
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const common = { bundle: true, platform: "browser", target: ["es2022"], legalComments: "none", logLevel: "warning", charset: "utf8" };

await build({
  ...common,
  entryPoints: [path.join(root, "src/clients/web/dashboard/main.ts")],
  format: "iife",
  minify: true,
  outfile: path.join(root, "src/server/gateway/static/app.js"),
});
if (process.argv.includes("--lib")) {
  await build({
    ...common,
    entryPoints: [path.join(root, "src/clients/web/index.ts")],
    format: "esm",
    outfile: path.join(root, "build/web/realtime-web.js"),
  });
}
