import { tablet, enroll, axe, assert, waitAllSynced, SCREENSHOTS, ensureDir, registerHousehold } from "./harness.mjs";
import { join } from "node:path";

export const name =
  "a case director's radar lists a family whose address is marked moved, links to its case, and takes the municipality's day limit; the case director links two households on a recorded behaviour";

export default async function ({ server, browser, pages }) {
  server.organisation("Gemeente Ergens");
  const dora = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  pages.push(dora.page);
  const page = dora.page;
  await enroll(dora, server.invite("Gemeente Ergens", "case_director"), "dora");
  for (const label of ["Familie Smit", "Familie Vos"]) {
    await page.getByRole("link", { name: "Veldwerk" }).click();
    await registerHousehold(page, label);
    await page.getByRole("button", { name: "Huisbezoek vastleggen" }).click();
    await page.getByLabel("Welzijn").fill("Het gaat redelijk.");
    await page.getByRole("button", { name: "Opslaan als concept" }).click();
    await page.getByRole("heading", { name: label }).waitFor();
  }
  // The Vos family has moved; the address is no longer known.
  await page.getByRole("button", { name: "Adres wijzigen" }).click();
  await page.getByLabel("Adresstatus").selectOption("moved");
  await page.getByRole("button", { name: "Opslaan" }).click();
  await page.getByText("verhuisd").first().waitFor();
  await waitAllSynced(page);

  await page.getByRole("link", { name: "Radar" }).click();
  const card = page.locator(".case-card", { hasText: "Familie Vos" });
  await card.getByText("verhuisd").waitFor();
  assert((await page.locator(".case-card", { hasText: "Familie Smit" }).count()) === 0, "a family visited today is not on the radar");
  await axe(page, "radar");
  ensureDir(SCREENSHOTS);
  await page.screenshot({ path: join(SCREENSHOTS, "radar.png"), fullPage: true });

  await page.getByLabel("Op de radar na zoveel dagen zonder bezoek").fill("90");
  const saved = page.waitForResponse((r) => r.url().endsWith("/api/radar/settings") && r.request().method() === "PUT");
  await page.getByRole("button", { name: "Opslaan" }).click();
  assert((await saved).status() === 200, "the limit is saved");
  await page.reload();
  await page.getByRole("button", { name: "Ontgrendelen met passkey" }).click();
  // The limit came back from the server, not from the form.
  await page.locator(".case-card", { hasText: "Familie Vos" }).waitFor();
  await page.waitForFunction(() => document.querySelector("#radar-days")?.value === "90", null, { timeout: 10_000 });

  await page.locator(".case-card", { hasText: "Familie Vos" }).click();
  await page.getByRole("heading", { name: "Familie Vos" }).waitFor();

  // The case director links the two households, on a behaviour; it shows on both cases.
  await page.getByRole("heading", { name: "Gekoppelde huishoudens" }).waitFor();
  const basisChoices = await page.getByLabel("Grond").locator("option").allTextContents();
  assert(!basisChoices.some((c) => /afkomst|origin|nationalit/i.test(c)), `no basis names origin: ${basisChoices}`);
  await page.getByLabel("Ander huishouden").selectOption({ label: "Familie Smit" });
  await page.getByLabel("Grond").selectOption("member_moved_in");
  await page.getByLabel("Wat is er gezien?").fill("Oudste dochter woont sinds oktober bij Smit.");
  await page.getByRole("button", { name: "Huishouden koppelen" }).click();
  const linked = page.locator(".card.link", { hasText: "Familie Smit" });
  await linked.getByText("gezinslid ingetrokken").waitFor();
  await axe(page, "case with direction and links");
  await linked.getByRole("link", { name: "Familie Smit" }).click();
  await page.getByRole("heading", { name: "Familie Smit" }).waitFor();
  await page.locator(".card.link", { hasText: "Familie Vos" }).getByText("Oudste dochter woont sinds oktober bij Smit.").waitFor();
  assert(dora.errors.length === 0, `page errors: ${dora.errors.join("; ")}`);
}
