// Limits the person can run into, and the safety properties of the session around sign-in and
// sign-out.

import {
  expect,
  test,
  APP_URL,
  LOGIN_ID_LABEL,
  enterCode,
  expectProfile,
  latestId,
  newPerson,
  open,
  requestCode,
  signOut,
  signUp,
  wrongCodeFor,
} from "./support";

test("too many wrong codes burn the code, so that even the right one is then refused", async ({
  page,
}) => {
  const { loginId } = newPerson("email");
  const { code } = await requestCode(page, { loginId });
  const alert = page.getByRole("alert");
  const field = page.getByLabel("Code", { exact: true });
  const wrong = wrongCodeFor(code);
  // Once hydrated, the page clears the field after each refused code: an empty field means the
  // answer to this try has arrived, so the next try is a new one.
  const tryCode = async (value: string, expected: string) => {
    await enterCode(page, value);
    await expect(field).toHaveValue("");
    await expect(alert).toContainText(expected);
  };

  // The emulator allows 5 tries; each wrong one before the last says "not right".
  for (let attempt = 1; attempt <= 4; attempt++) {
    await tryCode(wrong, "That code is not right");
  }
  await tryCode(wrong, "Too many wrong tries for this code");
  await tryCode(code, "Too many wrong tries for this code");
  await expect(page).toHaveURL(/\/verify$/);
});

test("asking for more codes than the per-address cap is refused with a wait time", async ({ page }) => {
  const { loginId } = newPerson("email");
  // Five codes a minute are allowed per address.
  for (let n = 1; n <= 5; n++) {
    await requestCode(page, { loginId });
  }
  const before = await latestId(loginId);
  await open(page, "/sign-up-or-in");
  await page.getByLabel(LOGIN_ID_LABEL).fill(loginId);
  await page.getByRole("button", { name: "Send me a code", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText(/Too many requests\. Try again in \d+ seconds\./);
  await expect(page).toHaveURL(/\/sign-up-or-in$/);
  expect(await latestId(loginId)).toBe(before);
});

test("signing in replaces the session id, and signing out removes the cookie", async ({
  page,
  context,
}) => {
  const person = newPerson("email");
  const { code } = await requestCode(page, { ...person, path: "/sign-up" });
  // The waiting code lives in a session already: note its id.
  const sidBefore = (await context.cookies()).find((c) => c.name === "sid")?.value;
  expect(sidBefore).toBeTruthy();

  await enterCode(page, code);
  await expectProfile(page, person.name);
  const sidAfter = (await context.cookies()).find((c) => c.name === "sid")?.value;
  expect(sidAfter).toBeTruthy();
  expect(sidAfter).not.toBe(sidBefore);

  await signOut(page);
  expect((await context.cookies()).filter((c) => c.name === "sid")).toEqual([]);
});

test("going Back after signing out does not show the profile again", async ({ page }) => {
  const person = newPerson("email", "Ada Lovelace");
  await signUp(page, person);
  await signOut(page);
  await page.goBack();
  await expect(page).toHaveURL(/\/sign-in\?next=(%2F|\/)profile$/);
  await expect(page.getByText(person.loginId)).toHaveCount(0);
});

for (const next of ["https://evil.example/", "//evil.example/profile", "/\\evil.example"]) {
  test(`a next parameter pointing off the site (${next}) is ignored after sign-in`, async ({ page }) => {
    const person = newPerson("email", "Grace Hopper");
    await signUp(page, person);
    await signOut(page);

    const path = `/sign-in?next=${encodeURIComponent(next)}`;
    const { code } = await requestCode(page, { method: "email", loginId: person.loginId, path });
    await enterCode(page, code);
    await expectProfile(page, "Grace Hopper");
    expect(new URL(page.url()).host).toBe(new URL(APP_URL).host);
  });
}
