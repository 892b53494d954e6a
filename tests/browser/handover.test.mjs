import { tablet, enroll, axe, assert, waitAllSynced, SCREENSHOTS, ensureDir, registerHousehold } from "./harness.mjs";
import { join } from "node:path";

export const name =
  "a family moves: the case director asks another municipality to take the case over, its case director accepts, and the case leaves the first tablet for the second";

export default async function ({ server, browser, pages }) {
  server.organisation("Gemeente Vertrek");
  server.organisation("Gemeente Aankomst");
  const saskia = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  const roel = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  pages.push(saskia.page, roel.page);
  await enroll(saskia, server.invite("Gemeente Vertrek", "case_director"), "saskia");
  await enroll(roel, server.invite("Gemeente Aankomst", "case_director"), "roel");

  // The sending case director's household, with a visit.
  const page = saskia.page;
  await registerHousehold(page, "Familie Verhuis", "Stationsweg 4, Vertrek");
  await page.getByRole("button", { name: "Huisbezoek vastleggen" }).click();
  await page.getByLabel("Wonen").fill("Dozen in de gang, verhuizing naar Aankomst op komst.");
  await page.getByRole("button", { name: "Opslaan als concept" }).click();
  await page.getByRole("heading", { name: "Familie Verhuis" }).waitFor();
  await waitAllSynced(page);
  // Direction, on the case of a municipality's case director.
  await page.getByRole("heading", { name: "Regie" }).waitFor();
  await page.getByLabel("Gemeente", { exact: true }).selectOption("Gemeente Aankomst");
  await page.getByLabel("Reden", { exact: true }).fill("Gezin verhuist per 1 december naar Aankomst.");
  await page.getByRole("button", { name: "Overdracht vragen" }).click();
  await page.getByText("Overdracht gevraagd aan Gemeente Aankomst").waitFor();
  await axe(page, "case with direction");

  // The receiving case director: the radar says a request waits; the case is not theirs yet.
  const other = roel.page;
  await other.getByRole("link", { name: "Radar" }).click();
  await other.getByRole("link", { name: /1 overdrachtsverzoek/ }).click();
  const request = other.locator(".handover.incoming", { hasText: "Familie Verhuis" });
  await request.getByText("Gezin verhuist per 1 december naar Aankomst.").waitFor();
  await axe(other, "handovers");
  ensureDir(SCREENSHOTS);
  await other.screenshot({ path: join(SCREENSHOTS, "handover.png"), fullPage: true });
  // Refusing needs a reason.
  await request.getByRole("button", { name: "Weigeren" }).click();
  await other.getByText("Schrijf waarom je het verzoek weigert.").waitFor();
  await request.getByRole("button", { name: "Overnemen" }).click();
  await other.locator(".handover", { hasText: "overgenomen" }).waitFor();

  // The case, with its visit, comes to the receiving tablet.
  await other.getByRole("link", { name: "Veldwerk" }).click();
  await other.getByRole("link", { name: /Familie Verhuis/ }).click();
  await other.getByRole("heading", { name: "Familie Verhuis" }).waitFor();
  await other.getByText("Dozen in de gang").first().waitFor({ timeout: 30_000 });
  await other.getByRole("heading", { name: "Verloop van de regie" }).waitFor();

  // And leaves the sending tablet: not on screen, not in its storage.
  await page.getByRole("link", { name: "Veldwerk" }).click();
  await page.waitForFunction(() => !document.body.innerText.includes("Familie Verhuis"), null, { timeout: 30_000 });
  const records = await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open("veldwerk");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const names = db.objectStoreNames;
          const tx = db.transaction(Array.from(names), "readonly");
          const keys = [];
          let left = names.length;
          for (const store of names) {
            const req = tx.objectStore(store).getAllKeys();
            req.onsuccess = () => {
              keys.push(...req.result.map(String));
              if (--left === 0) resolve(keys);
            };
          }
        };
      }),
  );
  assert(!records.some((k) => k.startsWith("doc/")), `no case record stays on the sending tablet: ${records.join(", ")}`);
  // What the sending municipality keeps: that it was handed over, to whom.
  await page.getByRole("link", { name: "Overdrachten" }).click();
  await page.locator(".handover", { hasText: "Familie Verhuis" }).getByText("overgenomen").waitFor();
  await page.locator(".handover", { hasText: "Familie Verhuis" }).getByText("Gemeente Aankomst").first().waitFor();
  assert(saskia.errors.length === 0 && roel.errors.length === 0, `page errors: ${[...saskia.errors, ...roel.errors].join("; ")}`);
}
