// Copies the front-end files the pages use from node_modules into static/vendor/ (git-ignored),
// so nothing third-party is committed and the app serves them from its own origin (strict CSP).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const vendor = join(root, "static", "vendor");
const files = {
  "htmx.org/dist/htmx.min.js": "htmx.min.js",
  "htmx-ext-sse/dist/sse.min.js": "htmx-ext-sse.min.js",
  "@picocss/pico/css/pico.min.css": "pico.min.css",
  // The dashboards' charts (static/js/charts.js draws them from JSON blocks in the page).
  "chart.js/dist/chart.umd.min.js": "chart.umd.min.js",
};

mkdirSync(vendor, { recursive: true });
for (const [source, target] of Object.entries(files)) {
  copyFileSync(join(root, "node_modules", source), join(vendor, target));
}
console.log(`front-end libraries copied to ${vendor}`);
