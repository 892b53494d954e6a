import { tablet, enroll, axe, assert, waitAllSynced, SCREENSHOTS, ensureDir, registerHousehold } from "./harness.mjs";
import { join } from "node:path";

export const name =
  "a case summary prints without the app around it; a case director's monitor shows their municipality's quarter with small counts suppressed, as a chart, tables and CSV";

export default async function ({ server, browser, pages }) {
  server.organisation("Gemeente Ergens");
  const dora = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  pages.push(dora.page);
  const page = dora.page;
  await enroll(dora, server.invite("Gemeente Ergens", "case_director"), "dora");
  await registerHousehold(page, "Familie Smit");
  await page.getByRole("button", { name: "Huisbezoek vastleggen" }).click();
  await page.getByLabel("Onderwijs").fill("Zoon gaat weer naar school.");
  await page.getByRole("button", { name: "Indienen ter beoordeling" }).click();
  await page.getByText("Zoon gaat weer naar school.").waitFor();
  await waitAllSynced(page);

  // The printable summary for a case conference: the record, without the app around it.
  await page.getByRole("link", { name: "Samenvatting voor het casusoverleg" }).click();
  await page.getByRole("heading", { name: "Samenvatting: Familie Smit" }).waitFor();
  await page.getByText("Zoon gaat weer naar school.").waitFor();
  await axe(page, "case summary");
  await page.emulateMedia({ media: "print" });
  assert(!(await page.locator("header.status").isVisible()), "the status bar is not printed");
  assert(!(await page.getByRole("button", { name: "Afdrukken" }).isVisible()), "the print button is not printed");
  const pdf = await page.pdf({ format: "A4" });
  assert(pdf.length > 1000 && pdf.subarray(0, 4).toString() === "%PDF", "the summary prints to PDF");
  await page.emulateMedia({ media: "screen" });

  await page.getByRole("link", { name: "Monitor" }).click();
  await page.getByRole("heading", { name: "Monitor" }).waitFor();
  const quarter = Math.floor(new Date().getMonth() / 3);
  const row = page.locator("table.figures").first().locator("tbody tr").nth(quarter);
  await row.waitFor();
  // One household, one visit: both under 5, so neither is shown.
  const cells = await row.locator("td").allTextContents();
  assert(cells[0] === "<5" && cells[1] === "<5", `quarter ${quarter + 1}: ${cells}`);
  await page.getByRole("img", { name: /Bezoeken:/ }).waitFor();
  await axe(page, "monitor");
  ensureDir(SCREENSHOTS);
  await page.screenshot({ path: join(SCREENSHOTS, "monitor.png"), fullPage: true });

  const href = await page.getByRole("link", { name: "Download als CSV" }).getAttribute("href");
  const csv = await page.evaluate(async (href) => (await fetch(href)).text(), href);
  assert(csv.startsWith("quarter,households,visits,returned_visits,observations_housing"), csv);
  assert(!csv.includes("Smit") && !csv.includes("school"), "no names or text in the CSV");
  assert(dora.errors.length === 0, `page errors: ${dora.errors.join("; ")}`);
}
