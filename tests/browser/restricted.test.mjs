import { tablet, enroll, axe, assert, waitAllSynced, networkDown, networkUp, SCREENSHOTS, ensureDir, registerHousehold } from "./harness.mjs";
import { join } from "node:path";

export const name =
  "a police officer adds a signal offline; the directing case director sees it on the radar and in the case's restricted record; a youth-care worker on the team has no trace of it on screen, in storage or on the wire";

/// Every key in the tablet's IndexedDB.
async function storedKeys(page) {
  return await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open("veldwerk");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const names = Array.from(db.objectStoreNames);
          const tx = db.transaction(names, "readonly");
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
}

export default async function ({ server, browser, pages }) {
  server.organisation("Gemeente Oost");
  server.organisation("Politie Oost", "police");
  server.organisation("Jeugdzorg Oost", "youth_care");
  const dora = await tablet(browser, { viewport: { width: 1280, height: 800 } });
  const piet = await tablet(browser);
  const joost = await tablet(browser);
  pages.push(dora.page, piet.page, joost.page);

  // Everything youth care's tablet receives over its WebSockets, from the start.
  const received = [];
  joost.page.on("websocket", (ws) => ws.on("framereceived", (frame) => received.push(Buffer.from(frame.payload))));

  await enroll(dora, server.invite("Gemeente Oost", "case_director"), "dora");
  await enroll(piet, server.invite("Politie Oost", "field_worker"), "piet");
  await enroll(joost, server.invite("Jeugdzorg Oost", "field_worker"), "joost");

  // The case director registers the family and puts the police and youth care on its team.
  const page = dora.page;
  await registerHousehold(page, "Familie Veld", "Beukenlaan 3, Oost");
  await waitAllSynced(page);
  for (const org of ["Politie Oost", "Jeugdzorg Oost"]) {
    await page.getByLabel("Organisatie toevoegen aan het team").selectOption(org);
    await page.getByRole("button", { name: "Toevoegen", exact: true }).click();
    await page.locator("li", { hasText: org }).first().waitFor();
  }
  const restrictedId = await page.evaluate(async () => {
    const cases = await (await fetch("/api/cases")).json();
    return cases[0].restrictedDocumentId;
  });
  assert(typeof restrictedId === "string" && restrictedId.length > 10, `the director is named the restricted record: ${restrictedId}`);
  // Nothing on the radar yet.
  await page.getByRole("link", { name: "Radar" }).click();
  await page.getByText("Er zijn geen gezinnen uit beeld.").waitFor();

  // The police officer finds the family, goes offline, and adds what the police know.
  const police = piet.page;
  await police.getByRole("link", { name: "Veldwerk" }).click();
  await police.getByRole("link", { name: /Familie Veld/ }).click({ timeout: 30_000 });
  await police.getByRole("heading", { name: "Beperkt dossier: politie en justitie" }).waitFor({ timeout: 30_000 });
  await police.getByText("Nog geen signalen van politie of justitie.").waitFor({ timeout: 30_000 });
  await networkDown(server, piet);
  await police.getByLabel("Soort signaal").selectOption("minor_in_crime");
  await police.getByLabel("Wat is er bekend?").fill("Zoon (15) aangehouden bij een inbraak in de wijk.");
  await police.getByRole("button", { name: "Signaal toevoegen" }).click();
  await police.getByText("Opgeslagen op deze tablet.").waitFor();
  await police.locator(".restricted-signals").getByText("Zoon (15) aangehouden").waitFor();
  await axe(police, "restricted record (police)");
  await networkUp(server, piet);
  await waitAllSynced(police, 60_000);

  // The case director: the radar says the police added a signal; the case shows it.
  await page.reload();
  await page.getByRole("button", { name: "Ontgrendelen met passkey" }).click();
  await page.getByRole("link", { name: "Radar" }).click();
  const card = page.locator(".case-card", { hasText: "Familie Veld" });
  await card.getByText("Nieuw signaal van Politie Oost").waitFor({ timeout: 30_000 });
  await card.click();
  const section = page.locator("section.restricted");
  await section.getByText("Zoon (15) aangehouden bij een inbraak in de wijk.").waitFor({ timeout: 30_000 });
  await section.getByText("Minderjarige betrokken bij criminaliteit").waitFor();
  await section.getByText(/piet \(Politie Oost\)/).waitFor();
  assert((await section.getByRole("button", { name: "Signaal toevoegen" }).count()) === 0, "the director reads; the police write");
  await axe(page, "restricted record (case director)");
  ensureDir(SCREENSHOTS);
  await page.screenshot({ path: join(SCREENSHOTS, "restricted-record.png"), fullPage: true });
  // Opened: off the radar.
  await page.getByRole("link", { name: "Radar" }).click();
  await page.getByText("Er zijn geen gezinnen uit beeld.").waitFor({ timeout: 30_000 });

  // Youth care works on the same case and never sees any of it.
  const youth = joost.page;
  await youth.getByRole("link", { name: "Veldwerk" }).click();
  await youth.getByRole("link", { name: /Familie Veld/ }).click({ timeout: 30_000 });
  await youth.getByRole("heading", { name: "Familie Veld" }).waitFor();
  await waitAllSynced(youth);
  const html = await youth.content();
  assert(!html.includes("Beperkt dossier") && !html.includes("aangehouden"), "no trace on youth care's screen");
  const keys = await storedKeys(youth);
  assert(keys.some((k) => k.startsWith("doc/")), `youth care holds the case: ${keys.join(", ")}`);
  assert(!keys.some((k) => k.includes(restrictedId)), `no trace in youth care's storage: ${keys.join(", ")}`);
  assert(received.length > 0, "youth care's tablet synced over a WebSocket");
  assert(!received.some((f) => f.includes(restrictedId) || f.includes("aangehouden")), "no trace in what youth care's tablet received");
}
