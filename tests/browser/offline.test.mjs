import { tablet, enroll, axe, assert, pending, waitAllSynced, SCREENSHOTS, ensureDir, networkDown, networkUp } from "./harness.mjs";
import { join } from "node:path";

export const name =
  "enroll, register a household, record a visit offline, reload offline: the visit is there, encrypted at rest, and reaches the server";

/// Every record the app keeps in IndexedDB, as the bytes on disk (latin1 text, for searching).
async function rawRecords(page) {
  return await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open("veldwerk");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction("records", "readonly");
          const all = tx.objectStore("records").getAll();
          all.onsuccess = () => {
            const text = all.result.map((bytes) => Array.from(bytes, (b) => String.fromCharCode(b)).join("")).join("|");
            open.result.close();
            resolve({ count: all.result.length, text });
          };
        };
      }),
  );
}

export default async function ({ server, browser, pages }) {
  server.organisation("Gemeente Ergens");
  const jan = await tablet(browser);
  pages.push(jan.page);
  const page = jan.page;

  await page.goto(server.invite("Gemeente Ergens", "field_worker"));
  await page.getByRole("heading", { name: "Apparaat koppelen" }).waitFor();
  await axe(page, "enroll");
  await enroll(jan, page.url(), "jan");
  await page.getByRole("heading", { name: "Mijn gezinnen" }).waitFor();
  await axe(page, "caseload (empty)");

  await page.getByRole("button", { name: "Nieuw gezin" }).click();
  await axe(page, "new household");
  await page.getByLabel("Naam van het gezin").fill("Familie Jansen");
  await page.getByLabel("Adres", { exact: true }).fill("Kerkstraat 2, Ergens");
  await page.getByRole("button", { name: "Opslaan" }).click();
  await page.getByRole("heading", { name: "Familie Jansen" }).waitFor();
  await page.getByRole("button", { name: "Gezinslid toevoegen" }).click();
  await page.getByLabel("Naam", { exact: true }).fill("Anna");
  await page.getByLabel("Geboortedatum").fill("2015-04-01");
  await page.getByRole("button", { name: "Opslaan" }).click();
  await page.locator("ul.members").getByText("Anna (2015-04-01) · kind").waitFor();
  await waitAllSynced(page);
  await axe(page, "case");
  // The service worker has the shell before the network goes.
  await page.evaluate(async () => (await navigator.serviceWorker.ready).active.state);

  // No network: the server is gone and the browser is offline.
  await networkDown(server, jan);
  await page.getByRole("button", { name: "Huisbezoek vastleggen" }).click();
  await page.getByRole("checkbox", { name: "Anna" }).check();
  await page.getByLabel("Wonen").fill("Vochtig huis, schimmel in de slaapkamer.");
  await page.getByLabel("Veiligheid").fill("Geen zorgen over de veiligheid.");
  await page.getByLabel("Vervolgafspraken").fill("Woningcorporatie bellen over de schimmel");
  await axe(page, "visit form");
  ensureDir(SCREENSHOTS);
  await page.screenshot({ path: join(SCREENSHOTS, "visit-form.png"), fullPage: true });
  await page.getByRole("button", { name: "Opslaan als concept" }).click();
  await page.getByRole("heading", { name: "Familie Jansen" }).waitFor();
  await page.getByText("Vochtig huis, schimmel in de slaapkamer.").waitFor();
  assert((await pending(page)) === "1 wijziging nog niet op de server", `pending: ${await pending(page)}`);

  // Signing out or clearing the tablet now would strand that change: the app warns first.
  await page.getByRole("button", { name: "Afmelden" }).click();
  await page.getByText("Let op: er zijn wijzigingen die nog niet op de server staan.").waitFor();
  await page.getByRole("button", { name: "Annuleren" }).click();
  await page.getByRole("button", { name: "Gegevens van deze tablet wissen" }).click();
  await page.getByText("Als je doorgaat, gaan ze verloren.").waitFor();
  await axe(page, "warning before clearing unsynced data");
  await page.getByRole("button", { name: "Annuleren" }).click();
  await page.getByRole("alertdialog").waitFor({ state: "detached" });

  // At rest, nothing the worker typed is readable.
  const stored = await rawRecords(page);
  assert(stored.count >= 3, `records stored: ${stored.count}`);
  for (const secret of ["Vochtig huis", "Familie Jansen", "Kerkstraat", "Woningcorporatie"]) {
    assert(!stored.text.includes(secret), `"${secret}" is readable in IndexedDB`);
  }

  // Reload with no network: the app opens from the service worker's cache and unlocks offline.
  await page.reload();
  await page.getByRole("button", { name: "Ontgrendelen met passkey" }).click();
  await page.getByText("Vochtig huis, schimmel in de slaapkamer.").waitFor();
  await page.getByText("Woningcorporatie bellen over de schimmel").waitFor();
  await page.getByRole("link", { name: "Veldwerk" }).click();
  await page.locator(".case-card", { hasText: "Familie Jansen" }).getByText("1 niet gesynchroniseerd").waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, "caseload.png"), fullPage: true });
  await axe(page, "caseload (offline, unsynced)");

  // The network returns: the visit goes to the server without anyone asking.
  await networkUp(server, jan);
  await waitAllSynced(page, 60_000);
  await page.locator(".case-card", { hasText: "Familie Jansen" }).getByText("niet gesynchroniseerd").waitFor({ state: "detached" });

  // Proof it is on the server: wipe this tablet, sign in again with the passkey
  // (usernameless, from the authenticator's resident key), and get it back.
  await page.getByRole("button", { name: "Gegevens van deze tablet wissen" }).click();
  await page.getByRole("heading", { name: "Aanmelden" }).waitFor();
  await axe(page, "sign in");
  await page.getByRole("button", { name: "Aanmelden met passkey" }).click();
  await page.locator(".case-card", { hasText: "Familie Jansen" }).click();
  await page.getByText("Vochtig huis, schimmel in de slaapkamer.").waitFor({ timeout: 30_000 });
  await waitAllSynced(page);

  // Signing out ends the session on the server, not only on the tablet.
  const me = () => page.evaluate(async () => (await fetch("/api/me", { credentials: "same-origin" })).status);
  assert((await me()) === 200, "signed in before signing out");
  await page.getByRole("button", { name: "Afmelden" }).click();
  await page.getByRole("heading", { name: "Ontgrendelen" }).or(page.getByRole("heading", { name: "Aanmelden" })).waitFor();
  assert((await me()) === 401, "the session still opens the API after signing out");

  // Unlocked again, the tablet knows it is signed out and offers to sign in.
  await page.getByRole("button", { name: "Ontgrendelen met passkey" }).click();
  await page.getByRole("heading", { name: "Familie Jansen" }).waitFor();
  await page.getByRole("status").getByRole("button", { name: "Aanmelden met passkey" }).click();
  await page.getByRole("status").getByRole("button", { name: "Aanmelden met passkey" }).waitFor({ state: "detached" });
  assert((await me()) === 200, "signed in again");

  // Signed out without a network: the tablet locks, says the server has not
  // heard yet, and ends the session there once the network returns.
  await networkDown(server, jan);
  await page.getByRole("button", { name: "Afmelden" }).click();
  const notice = page.getByText("Deze tablet is afgemeld, maar de server was niet bereikbaar.", { exact: false });
  await notice.waitFor();
  await axe(page, "signed out offline");
  await networkUp(server, jan);
  await notice.waitFor({ state: "detached", timeout: 30_000 });
  assert((await me()) === 401, "the session outlived a sign-out made offline");
  assert(jan.errors.length === 0, `page errors: ${jan.errors.join("; ")}`);
}
