import { tablet, enroll, axe, assert } from "./harness.mjs";

export const name =
  "a field worker lists her devices and revokes a lost tablet from this one; the lost tablet's credential is refused and told to wipe";

export default async function ({ server, browser, pages }) {
  server.organisation("Wijkteam West", "social_work");
  const anna = await tablet(browser);
  pages.push(anna.page);
  await enroll(anna, server.invite("Wijkteam West", "field_worker"), "anna");
  await anna.page.getByRole("link", { name: "Mijn apparaten" }).waitFor();
  // A second device of hers: the tablet she will lose.
  const lostToken = server.admin("token", "--user", "anna", "--device", "Tablet in de auto").split(/\s+/).pop();

  const page = anna.page;
  await page.getByRole("link", { name: "Mijn apparaten" }).click();
  await page.getByRole("heading", { name: "Mijn apparaten" }).waitFor();
  const here = page.locator(".device-list li", { hasText: "deze tablet" });
  await here.waitFor();
  assert((await here.getByRole("button").count()) === 0, "this tablet is not revoked from itself here");
  const lost = page.locator(".device-list li", { hasText: "Tablet in de auto" });
  await lost.getByText("laatst gezien nog nooit").waitFor();
  await axe(page, "my devices");

  // One tap asks; the second revokes.
  await lost.getByRole("button", { name: "Apparaat intrekken" }).click();
  await lost.getByRole("button", { name: /Zeker\?/ }).click();
  await lost.getByText(/Ingetrokken op/).waitFor();

  // The lost tablet's next contact is refused with the wipe signal.
  const answer = await page.evaluate(async (token) => {
    const r = await fetch("/api/me", { headers: { authorization: `Bearer ${token}` }, credentials: "omit" });
    return { status: r.status, body: await r.json() };
  }, lostToken);
  assert(answer.status === 401 && answer.body.code === "device_revoked", `the lost tablet is told to wipe: ${JSON.stringify(answer)}`);
  // This tablet still works.
  await page.getByRole("link", { name: "Veldwerk" }).click();
  await page.getByText("Verbonden").waitFor();
}
