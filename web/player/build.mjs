// Copies the browser players from node_modules into the Python package, so that `xueliang serve` can hand them
// to the player page (/play/{camera_id}) without reaching the internet. The output directory is build output:
// it is gitignored and rebuilt by scripts/build-web (called from scripts/bootstrap).
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(here, "../../src/xueliang/web_dist/player/vendor");

// [package, file inside the package, name in the output directory]
const FILES = [
  ["mpegts.js", "dist/mpegts.js", "mpegts.js"],
  ["mpegts.js", "dist/mpegts.js.map", "mpegts.js.map"],
  ["mpegts.js", "LICENSE", "mpegts.js.LICENSE"],
  ["hls.js", "dist/hls.min.js", "hls.min.js"],
  ["hls.js", "LICENSE", "hls.js.LICENSE"],
];

function packageVersion(name) {
  return JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const manifest = { packages: {}, files: {} };
for (const [pkg, source, target] of FILES) {
  const from = join(here, "node_modules", pkg, source);
  copyFileSync(from, join(outDir, target)); // throws (exit 1) when `npm ci` has not run
  manifest.packages[pkg] = packageVersion(pkg);
  manifest.files[target] = createHash("sha256").update(readFileSync(from)).digest("hex");
}
writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`build-web: vendored ${Object.entries(manifest.packages).map(([n, v]) => `${n}@${v}`).join(", ")} into ${outDir}`);
