// Descope failing while a person is signed in: the profile says the service is unavailable
// (503, announced), and once Descope is back the same browser sees its profile again, still
// signed in. Faults come from the embedded emulator's fault API and the session JWT expires by
// moving its clock, so these journeys need `EMULATOR_ALLOW_FAULTS=true` and a server of their
// own (faults and the clock are global to a server): `.ci/test` runs them on their own with
// `--grep @faults` (E2E_EXTRA=EMULATOR_ALLOW_FAULTS=true for the server Playwright starts), and
// leaves them out of the other runs. On a server without faults (a plain `npx playwright test`)
// they skip themselves.

import { EMULATOR_URL, expect, expectProfile, newPerson, open, signOut, signUp, test } from "./support";

async function emulator(method: "POST" | "DELETE", path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${EMULATOR_URL}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
  }
}

// Whether the emulator takes faults: its fault API answers 404 when it was started without.
// Asked for in E2E_EXTRA, they must be on: the journeys run, and fail if they are not.
let faultsOn = /(^|\s)EMULATOR_ALLOW_FAULTS=true(\s|$)/.test(process.env.E2E_EXTRA ?? "");
test.beforeAll(async () => {
  faultsOn ||= await fetch(`${EMULATOR_URL}/emulator/faults`).then((r) => r.ok, () => false);
});
test.beforeEach(() => {
  test.skip(
    !faultsOn,
    "needs a server of its own with EMULATOR_ALLOW_FAULTS=true: E2E_EXTRA=EMULATOR_ALLOW_FAULTS=true npx playwright test --grep @faults",
  );
});
test.afterEach(async () => {
  if (faultsOn) await emulator("DELETE", "/emulator/faults");
});

test("@faults an outage shows 'service unavailable' and the profile comes back after it", async ({
  page,
}) => {
  const person = newPerson("email", "Grace Hopper");
  await signUp(page, person);

  // Past the session JWT's ten minutes: the next view must refresh it, and Descope is down.
  await emulator("POST", "/emulator/clock/advance", { seconds: 11 * 60 });
  await emulator("POST", "/emulator/faults", {
    path: "/v1/auth/refresh",
    status: 503,
    errorCode: "E000000",
  });
  const during = await open(page, "/profile");
  expect(during?.status()).toBe(503);
  await expect(page.getByRole("alert")).toContainText("couldn't reach the sign-in service");
  await expect(page.getByRole("alert")).toContainText("Error id");

  // Descope is back: the same browser, never signed out, sees its profile.
  await emulator("DELETE", "/emulator/faults");
  const after = await open(page, "/profile");
  expect(after?.status()).toBe(200);
  await expectProfile(page, person.name);
});

test("@faults signing out while Descope is down still signs this browser out", async ({ page }) => {
  const person = newPerson("email", "Margaret Hamilton");
  await signUp(page, person);
  await emulator("POST", "/emulator/faults", { path: "/v1/auth/logout", status: 503, errorCode: "E000000" });
  await signOut(page);
  await emulator("DELETE", "/emulator/faults");
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fprofile$/);
});
