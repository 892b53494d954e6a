// Runs every *.test.mjs here, each against its own fresh server and browser, and
// ends with the line `N passed, N failed`. `node run.mjs conflict` runs the tests
// whose file name contains "conflict".

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Server, launch, ARTIFACTS, ensureDir, ROOT } from "./harness.mjs";

const filter = process.argv[2] || "";
const dir = join(ROOT, "tests/browser");
const files = readdirSync(dir).filter((f) => f.endsWith(".test.mjs") && f.includes(filter)).sort();
ensureDir(ARTIFACTS);

let passed = 0;
let failed = 0;
for (const file of files) {
  const test = await import(join(dir, file));
  const started = Date.now();
  const server = await Server.start();
  const browser = await launch();
  const pages = [];
  try {
    await test.default({ server, browser, pages });
    passed += 1;
    console.log(`ok    ${file}: ${test.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL  ${file}: ${test.name}\n${error.stack || error}`);
    for (const [index, page] of pages.entries()) {
      try {
        await page.screenshot({ path: join(ARTIFACTS, `${file}-${index}.png`), fullPage: true });
      } catch (_) {}
    }
    console.log(`server log:\n${server.log.join("").slice(-4000)}`);
  } finally {
    await browser.close();
    await server.close();
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
