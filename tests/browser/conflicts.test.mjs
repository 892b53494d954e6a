import {
  tablet, enroll, axe, assert, waitAllSynced, SCREENSHOTS, ensureDir, registerHousehold, networkDown, networkUp,
} from "./harness.mjs";
import { join } from "node:path";

export const name =
  "two workers change a member's birth date and an agreement offline: both values of each are shown with their writers, one is kept, and the conflict mark goes on both tablets";

async function openCase(page, label) {
  await page.getByRole("link", { name: "Veldwerk" }).click();
  await page.locator(".case-card", { hasText: label }).click();
  await page.getByRole("heading", { name: label }).waitFor();
}

async function change(page, item, fields) {
  await item.getByRole("button", { name: "Wijzigen" }).click();
  for (const [label, value] of fields) await item.getByLabel(label, { exact: true }).fill(value);
  await item.getByRole("button", { name: "Opslaan" }).click();
  await item.getByRole("button", { name: "Opslaan" }).waitFor({ state: "detached" });
}

export default async function ({ server, browser, pages }) {
  server.organisation("Wijkteam Zuid", "social_work");
  const jan = await tablet(browser);
  const sara = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  pages.push(jan.page, sara.page);
  await enroll(jan, server.invite("Wijkteam Zuid", "field_worker"), "jan");
  await enroll(sara, server.invite("Wijkteam Zuid", "field_worker"), "sara", "Tablet 2");

  // Jan registers the family, a member and an agreement made at a visit.
  const page = jan.page;
  await registerHousehold(page, "Familie Bakker", "Lindelaan 8, Zuid");
  await page.getByRole("button", { name: "Gezinslid toevoegen" }).click();
  await page.locator("#member-name").fill("Sem");
  await page.locator("#member-birth").fill("2012-03-04");
  await page.getByRole("button", { name: "Opslaan" }).click();
  await page.locator(".members li", { hasText: "Sem" }).waitFor();
  await page.getByRole("button", { name: "Huisbezoek vastleggen" }).click();
  await page.getByLabel("Onderwijs").fill("Sem gaat weer naar school.");
  await page.getByLabel("Vervolgafspraken").fill("Gesprek met de mentor");
  await page.getByRole("button", { name: "Opslaan als concept" }).click();
  await page.getByRole("heading", { name: "Familie Bakker" }).waitFor();
  await page.locator(".agreements li", { hasText: "Gesprek met de mentor" }).waitFor();
  await waitAllSynced(page);
  await sara.page.locator(".case-card", { hasText: "Familie Bakker" }).waitFor({ timeout: 30_000 });
  await openCase(sara.page, "Familie Bakker");
  await sara.page.locator(".agreements li", { hasText: "Gesprek met de mentor" }).waitFor({ timeout: 30_000 });

  // Both offline: each corrects the birth date and the agreement differently.
  await networkDown(server, jan, sara);
  for (const [t, date, text] of [[jan, "2012-03-05", "Gesprek met de mentor op dinsdag"], [sara, "2012-04-03", "Gesprek met mentor en ouders"]]) {
    const p = t.page;
    await change(p, p.locator(".members li", { hasText: "Sem" }), [["Geboortedatum", date]]);
    await change(p, p.locator(".agreements li").first(), [["Afspraak", text]]);
  }
  await networkUp(server, jan, sara);
  await waitAllSynced(jan.page, 60_000);
  await waitAllSynced(sara.page, 60_000);

  for (const [who, t] of [["jan", jan], ["sara", sara]]) {
    const p = t.page;
    const other = who === "jan" ? "sara (Wijkteam Zuid)" : "jan (Wijkteam Zuid)";
    const birth = p.getByTestId("birthDate-conflict");
    await birth.waitFor({ timeout: 30_000 });
    await birth.getByText("2012-03-05").waitFor();
    await birth.getByText("2012-04-03").waitFor();
    await birth.getByText(`ingevoerd door ${other}`).waitFor();
    await birth.getByText("ingevoerd door jou, op deze tablet").waitFor();
    const agreement = p.getByTestId("text-conflict");
    await agreement.getByText("Gesprek met de mentor op dinsdag").waitFor();
    await agreement.getByText("Gesprek met mentor en ouders").waitFor();
    // The caseload marks the family as having something to settle.
    await p.getByRole("link", { name: "Veldwerk" }).click();
    await p.locator(".case-card", { hasText: "Familie Bakker" }).locator(".badge.conflict").waitFor();
    await openCase(p, "Familie Bakker");
  }
  await axe(sara.page, "case with conflicts on a member and an agreement");
  ensureDir(SCREENSHOTS);
  await sara.page.screenshot({ path: join(SCREENSHOTS, "conflicts.png"), fullPage: true });

  // Sara keeps Jan's birth date and writes a new text for the agreement.
  const s = sara.page;
  await s.getByTestId("birthDate-conflict").locator(".alternative", { hasText: "2012-03-05" }).getByRole("button", { name: "Kiezen" }).click();
  await s.getByTestId("birthDate-conflict").waitFor({ state: "detached" });
  const agreement = s.getByTestId("text-conflict");
  await agreement.locator(".alternative").first().getByRole("button", { name: "Aanpassen" }).click();
  await agreement.getByLabel("Nieuwe waarde").fill("Gesprek met mentor en ouders, dinsdag");
  await agreement.getByRole("button", { name: "Opslaan" }).click();
  await agreement.waitFor({ state: "detached" });
  await waitAllSynced(s);

  // Settled on both tablets.
  for (const t of [jan, sara]) {
    const p = t.page;
    await p.locator(".members li", { hasText: "Sem (2012-03-05)" }).waitFor({ timeout: 30_000 });
    await p.locator(".agreements li", { hasText: "Gesprek met mentor en ouders, dinsdag" }).waitFor({ timeout: 30_000 });
    assert((await p.locator("div.conflict").count()) === 0, "no conflict is left");
  }
  assert(jan.errors.length + sara.errors.length === 0, `page errors: ${[...jan.errors, ...sara.errors].join("; ")}`);
}
