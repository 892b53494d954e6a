import {
  tablet, enroll, axe, assert, waitAllSynced, SCREENSHOTS, ensureDir, registerHousehold, networkDown, networkUp,
} from "./harness.mjs";
import { join } from "node:path";

export const name =
  "two workers edit one family offline: both visits arrive everywhere, the address conflict is shown with who wrote what, and is settled";

async function openCase(page, label) {
  await page.getByRole("link", { name: "Veldwerk" }).click();
  await page.locator(".case-card", { hasText: label }).click();
  await page.getByRole("heading", { name: label }).waitFor();
}

async function changeAddress(page, address) {
  await page.getByRole("button", { name: "Adres wijzigen" }).click();
  await page.getByLabel("Adres", { exact: true }).fill(address);
  await page.getByRole("button", { name: "Opslaan" }).click();
  await page.getByTestId("address").filter({ hasText: address }).waitFor();
}

async function recordVisit(page, theme, text) {
  await page.getByRole("button", { name: "Huisbezoek vastleggen" }).click();
  await page.getByLabel(theme).fill(text);
  await page.getByRole("button", { name: "Indienen ter beoordeling" }).click();
  await page.getByText(text).waitFor();
}

export default async function ({ server, browser, pages }) {
  server.organisation("Gemeente Ergens");
  const jan = await tablet(browser);
  const sara = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  pages.push(jan.page, sara.page);

  await enroll(jan, server.invite("Gemeente Ergens", "field_worker"), "jan");
  await registerHousehold(jan.page, "Familie De Vries", "Dorpsstraat 1, Ergens");
  await waitAllSynced(jan.page);

  // Sara joins later; the family reaches her tablet by itself.
  await enroll(sara, server.invite("Gemeente Ergens", "field_worker"), "sara", "Tablet 2");
  await sara.page.locator(".case-card", { hasText: "Dorpsstraat 1" }).waitFor({ timeout: 30_000 });
  await openCase(sara.page, "Familie De Vries");
  await jan.page.evaluate(async () => (await navigator.serviceWorker.ready).active.state);
  await sara.page.evaluate(async () => (await navigator.serviceWorker.ready).active.state);

  // Both go offline and edit the same family.
  await networkDown(server, jan, sara);
  await changeAddress(jan.page, "Molenweg 5, Ergens");
  await recordVisit(jan.page, "Wonen", "Jan: het gezin is verhuisd naar de Molenweg.");
  await changeAddress(sara.page, "Stationsplein 9, Ergens");
  await recordVisit(sara.page, "Gezondheid", "Sara: moeder heeft een afspraak bij de huisarts.");

  // Both come back online.
  await networkUp(server, jan, sara);
  await waitAllSynced(jan.page, 60_000);
  await waitAllSynced(sara.page, 60_000);

  for (const [who, t] of [["jan", jan], ["sara", sara]]) {
    const page = t.page;
    await page.getByText("Jan: het gezin is verhuisd naar de Molenweg.").waitFor({ timeout: 30_000 });
    await page.getByText("Sara: moeder heeft een afspraak bij de huisarts.").waitFor({ timeout: 30_000 });
    const conflict = page.getByTestId("address-conflict");
    await conflict.waitFor();
    const alternatives = conflict.locator(".alternative");
    assert((await alternatives.count()) === 2, `${who} sees ${await alternatives.count()} alternatives`);
    await conflict.getByText("Molenweg 5, Ergens").waitFor();
    await conflict.getByText("Stationsplein 9, Ergens").waitFor();
    // Who wrote each: "you" for one's own, the other worker by name.
    const other = who === "jan" ? "sara (Gemeente Ergens)" : "jan (Gemeente Ergens)";
    await conflict.getByText(`ingevoerd door ${other}`).waitFor();
    await conflict.getByText("ingevoerd door jou, op deze tablet").waitFor();
  }
  await axe(sara.page, "case with a conflict");
  ensureDir(SCREENSHOTS);
  await sara.page.screenshot({ path: join(SCREENSHOTS, "conflict.png"), fullPage: true });

  // Jan settles it by choosing his value; both tablets end up with one address.
  await jan.page
    .getByTestId("address-conflict")
    .locator(".alternative", { hasText: "Molenweg 5, Ergens" })
    .getByRole("button", { name: "Kiezen" })
    .click();
  for (const t of [jan, sara]) {
    await t.page.getByTestId("address-conflict").waitFor({ state: "detached", timeout: 30_000 });
    await t.page.getByTestId("address").filter({ hasText: "Molenweg 5, Ergens" }).waitFor();
    await waitAllSynced(t.page, 30_000);
    assert((await t.page.locator(".visit-card").count()) === 2, "both visits are on each tablet");
  }
  // The history says who settled it, and from what to what.
  await sara.page.getByRole("button", { name: "Geschiedenis tonen" }).click();
  const settled = sara.page.getByTestId("history").locator("li", { hasText: "conflict beslecht" }).first();
  await settled.waitFor();
  const entry = sara.page.getByTestId("history").locator(":scope > li", { hasText: "conflict beslecht" });
  await entry.getByText("jan (Gemeente Ergens)").waitFor();
  await entry.getByText("Molenweg 5, Ergens").first().waitFor();
  await axe(sara.page, "case history");
  assert(jan.errors.length + sara.errors.length === 0, `page errors: ${[...jan.errors, ...sara.errors].join("; ")}`);
}
