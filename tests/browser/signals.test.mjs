import { tablet, enroll, axe, assert, networkDown, SCREENSHOTS, ensureDir } from "./harness.mjs";
import { join } from "node:path";

export const name =
  "two organisations register the same child on two tablets and each sees the other's contact details, nothing more; a mistyped BSN is refused and offline the screen says it needs the network";

async function openSignals(page) {
  await page.getByRole("link", { name: "Signalen" }).click();
  await page.getByRole("heading", { name: "Signalen", exact: true }).waitFor();
}

export default async function ({ server, browser, pages }) {
  server.organisation("Jeugdzorg Noord", "youth_care");
  server.organisation("Politie Oost", "police");
  const jana = await tablet(browser);
  const piet = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  pages.push(jana.page, piet.page);
  // Both invites first: an admin command writing while an enrollment commits could find the database locked.
  const invites = [server.invite("Jeugdzorg Noord", "field_worker"), server.invite("Politie Oost", "supervisor")];
  await enroll(jana, invites[0], "jana");
  await jana.page.getByRole("link", { name: "Signalen" }).waitFor();
  await enroll(piet, invites[1], "piet");

  // Jana mistypes the number: the eleven test refuses it before anything is sent.
  const page = jana.page;
  await openSignals(page);
  let posted = 0;
  page.on("request", (r) => {
    if (r.url().endsWith("/api/signals") && r.method() === "POST") posted += 1;
  });
  await page.getByLabel("BSN", { exact: true }).fill("123456781");
  await page.getByLabel("Telefoon").fill("06-11111111");
  await page.getByRole("button", { name: "Melden", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: "elfproef" }).waitFor();
  assert(posted === 0, "a BSN that fails the eleven test is not sent");

  await page.getByLabel("BSN", { exact: true }).fill("123456782");
  await page.getByLabel("Eigen kenmerk").fill("dossier J-17");
  await page.getByLabel("Naam (leeg: je gebruikersnaam)").fill("Jana Jansen");
  await page.getByRole("button", { name: "Melden", exact: true }).click();
  await page.getByText("Geen andere organisatie heeft deze persoon gemeld").waitFor();
  assert((await page.getByLabel("BSN", { exact: true }).inputValue()) === "", "the number leaves the form once registered");
  await page.locator(".signal", { hasText: "dossier J-17" }).getByText("Geen match.").waitFor();
  await axe(page, "signals");

  // The police register the same child, written with spaces, on their tablet.
  const other = piet.page;
  await openSignals(other);
  await other.getByLabel("BSN", { exact: true }).fill("1234 56 782");
  await other.getByLabel("E-mail", { exact: true }).fill("piet@politie.example");
  await other.getByRole("button", { name: "Melden", exact: true }).click();
  await other.getByText("Een andere organisatie heeft deze persoon ook gemeld").waitFor();
  const seen = other.locator(".signal .match");
  await seen.waitFor();
  const text = await seen.textContent();
  assert(text.includes("Jeugdzorg Noord") && text.includes("Jana Jansen") && text.includes("06-11111111"), `the match: ${text}`);
  const screen = await other.locator("main").textContent();
  assert(!screen.includes("J-17"), "the other organisation's own reference stays with them");
  assert(!screen.includes("123456782"), "no number on the screen");
  await axe(other, "signals with a match");
  ensureDir(SCREENSHOTS);
  await other.screenshot({ path: join(SCREENSHOTS, "signals.png"), fullPage: true });

  // Jana sees the match too, with the police's contact.
  await page.getByRole("link", { name: "Veldwerk" }).click();
  await openSignals(page);
  const match = page.locator(".signal", { hasText: "dossier J-17" }).locator(".match");
  await match.waitFor();
  const janas = await match.textContent();
  assert(janas.includes("Politie Oost") && janas.includes("piet@politie.example"), `the match: ${janas}`);

  // Offline, the screen says it needs the network.
  await networkDown(server, jana);
  await page.getByRole("status").filter({ hasText: "Signalen werken alleen met verbinding" }).waitFor({ timeout: 30_000 });
  assert(jana.errors.length === 0 && piet.errors.length === 0, `page errors: ${[...jana.errors, ...piet.errors].join("; ")}`);
}
