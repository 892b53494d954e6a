import {
  tablet, enroll, axe, assert, waitAllSynced, SCREENSHOTS, ensureDir, registerHousehold, networkDown, networkUp,
} from "./harness.mjs";
import { join } from "node:path";

export const name =
  "review loop: a visit submitted offline is returned with a comment, answered offline, resubmitted, approved on the diff, and then no longer editable";

const offline = networkDown;

async function online(server, ...tablets) {
  await networkUp(server, ...tablets);
  for (const t of tablets) await waitAllSynced(t.page, 60_000);
}

export default async function ({ server, browser, pages }) {
  server.organisation("Gemeente Ergens");
  const jan = await tablet(browser);
  const sara = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  pages.push(jan.page, sara.page);

  await enroll(jan, server.invite("Gemeente Ergens", "field_worker"), "jan");
  await registerHousehold(jan.page, "Familie Bakker");
  await waitAllSynced(jan.page);
  await jan.page.evaluate(async () => (await navigator.serviceWorker.ready).active.state);

  // Jan submits a visit while offline; it syncs when the network returns.
  await offline(server, jan);
  await jan.page.getByRole("button", { name: "Huisbezoek vastleggen" }).click();
  await jan.page.getByLabel("Wonen").fill("Vochtig huis.");
  await jan.page.getByRole("button", { name: "Indienen ter beoordeling" }).click();
  await jan.page.getByText("Vochtig huis.").waitFor();
  await online(server, jan);

  // Sara, his supervisor, finds it in her queue and returns it with a comment.
  await enroll(sara, server.invite("Gemeente Ergens", "supervisor"), "sara", "Tablet 2");
  await sara.page.getByRole("link", { name: "Te beoordelen" }).click();
  const queued = sara.page.locator(".visit-card", { hasText: "Familie Bakker" });
  await queued.waitFor({ timeout: 30_000 });
  await axe(sara.page, "review queue");
  await queued.click();
  await axe(sara.page, "review of a visit");
  await sara.page.getByRole("button", { name: "Terugsturen" }).click();
  await sara.page.getByText("Schrijf bij het terugsturen wat er moet gebeuren.").waitFor();
  await sara.page.getByLabel("Opmerking").fill("Wie waren er aanwezig? En hoe erg is het vocht?");
  await sara.page.getByRole("button", { name: "Terugsturen" }).click();
  await sara.page.getByText("Er wachten geen bezoeken op beoordeling.").waitFor();
  await waitAllSynced(sara.page);

  // Jan, offline again, sees the comment, edits and answers, and resubmits.
  await jan.page.locator(".visit-card .badge", { hasText: "teruggestuurd" }).waitFor({ timeout: 30_000 });
  await offline(server, jan, sara);
  await jan.page.locator(".visit-card", { hasText: "Vochtig huis." }).click();
  await jan.page.getByTestId("review-comment").filter({ hasText: "Wie waren er aanwezig?" }).waitFor();
  await axe(jan.page, "returned visit");
  await jan.page.getByLabel("Wonen").fill("Vochtig huis, schimmel op de muren van twee slaapkamers.");
  await jan.page.getByLabel("Jouw antwoord").fill("Moeder en de twee kinderen waren thuis.");
  await jan.page.getByRole("button", { name: "Beantwoorden en opnieuw indienen" }).click();
  await jan.page.getByText("Vochtig huis, schimmel op de muren van twee slaapkamers.").waitFor();
  await online(server, jan, sara);

  // Sara sees exactly what changed since she returned it, and approves.
  await sara.page.getByRole("link", { name: "Te beoordelen" }).click();
  const again = sara.page.locator(".visit-card", { hasText: "opnieuw ingediend" });
  await again.waitFor({ timeout: 30_000 });
  ensureDir(SCREENSHOTS);
  await sara.page.screenshot({ path: join(SCREENSHOTS, "review-queue.png"), fullPage: true });
  await again.click();
  const changes = sara.page.getByTestId("changes");
  await changes.waitFor();
  const rows = changes.locator("tbody tr");
  assert((await rows.count()) === 2, `changed fields: ${await rows.allTextContents()}`);
  await rows.filter({ hasText: "Wonen" }).filter({ hasText: "Vochtig huis." }).filter({ hasText: "schimmel op de muren" }).waitFor();
  await rows.filter({ hasText: "Antwoord van de medewerker" }).filter({ hasText: "Moeder en de twee kinderen" }).waitFor();
  await sara.page.getByRole("button", { name: "Goedkeuren" }).click();
  await sara.page.getByText("Er wachten geen bezoeken op beoordeling.").waitFor();
  await waitAllSynced(sara.page);

  // Jan's visit is approved and can no longer be edited.
  await jan.page.getByRole("link", { name: "Veldwerk" }).click();
  await jan.page.locator(".case-card", { hasText: "Familie Bakker" }).click();
  await jan.page.locator(".visit-card .badge", { hasText: "goedgekeurd" }).waitFor({ timeout: 30_000 });
  await jan.page.locator(".visit-card").click();
  await jan.page.getByText("Goedgekeurd: dit bezoek kan niet meer worden gewijzigd.").waitFor();
  assert(await jan.page.getByLabel("Wonen").isDisabled(), "the approved visit's fields are disabled");
  assert((await jan.page.getByRole("button", { name: "Indienen ter beoordeling" }).count()) === 0 ||
    await jan.page.getByRole("button", { name: "Indienen ter beoordeling" }).isDisabled(), "no resubmitting an approved visit");
  // The history names the supervisor, who recorded no visit herself: the server says who she is.
  await jan.page.goBack();
  await jan.page.getByRole("heading", { name: "Familie Bakker" }).waitFor();
  await jan.page.getByRole("button", { name: "Geschiedenis tonen" }).click();
  await jan.page.getByTestId("history").getByText("sara (Gemeente Ergens)").first().waitFor({ timeout: 30_000 });
  assert(jan.errors.length + sara.errors.length === 0, `page errors: ${[...jan.errors, ...sara.errors].join("; ")}`);
}
