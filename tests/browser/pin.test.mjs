import { tablet, enroll, axe, assert } from "./harness.mjs";

export const name =
  "without PRF the worker sets a PIN; the app locks and unlocks with it, speaks English on request, and wipes itself when the device is revoked";

export default async function ({ server, browser, pages }) {
  server.organisation("Jeugdzorg Regio", "youth_care");
  const ali = await tablet(browser, { prf: false });
  pages.push(ali.page);
  const page = ali.page;

  await enroll(ali, server.invite("Jeugdzorg Regio", "field_worker"), "ali");
  await page.getByRole("heading", { name: "Pincode instellen" }).waitFor();
  await axe(page, "PIN set-up");
  await page.getByLabel("Pincode", { exact: true }).fill("12345");
  await page.getByLabel("Pincode nogmaals").fill("12345");
  await page.getByRole("button", { name: "Pincode opslaan" }).click();
  await page.getByText("De pincode moet minstens 6 cijfers hebben.").waitFor();
  await page.getByLabel("Pincode", { exact: true }).fill("482916");
  await page.getByLabel("Pincode nogmaals").fill("482916");
  await page.getByRole("button", { name: "Pincode opslaan" }).click();
  await page.getByRole("heading", { name: "Mijn gezinnen" }).waitFor();

  // Lock: the decrypted records leave memory; a wrong PIN does not open the store.
  await page.getByRole("button", { name: "Vergrendelen" }).click();
  await page.getByRole("heading", { name: "Ontgrendelen" }).waitFor();
  await axe(page, "unlock with PIN");
  await page.getByLabel("Pincode").fill("000000");
  await page.getByRole("button", { name: "Ontgrendelen met pincode" }).click();
  await page.getByText("Pincode onjuist.").waitFor();
  await page.getByLabel("Pincode").fill("482916");
  await page.getByRole("button", { name: "Ontgrendelen met pincode" }).click();
  await page.getByRole("heading", { name: "Mijn gezinnen" }).waitFor();

  // English, and back; the choice sets the document language too.
  await page.getByRole("button", { name: "English" }).click();
  await page.getByRole("heading", { name: "My families" }).waitFor();
  assert((await page.getAttribute("html", "lang")) === "en", "html lang follows the switch");
  await axe(page, "caseload in English");
  await page.getByRole("button", { name: "Nederlands" }).click();
  await page.getByRole("heading", { name: "Mijn gezinnen" }).waitFor();

  // The device is revoked (here by its owner): the server's wipe signal empties the tablet.
  const revoked = await page.evaluate(async () => {
    const me = await (await fetch("/api/me")).json();
    const response = await fetch(`/api/devices/${me.deviceId}/revoke`, { method: "POST" });
    return response.status;
  });
  assert(revoked === 200 || revoked === 204, `revoke answered ${revoked}`);
  await page.getByText("Deze tablet is ingetrokken").waitFor({ timeout: 40_000 });
  const databases = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  assert(!databases.includes("veldwerk"), `local databases after the wipe: ${databases}`);
  assert(ali.errors.length === 0, `page errors: ${ali.errors.join("; ")}`);
}
