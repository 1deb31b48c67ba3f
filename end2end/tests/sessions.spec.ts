// Sessions: server-side, behind one opaque HttpOnly cookie; the header shows whose session it is
// and signs it out; "sign out everywhere" ends them all.

import {
  expect,
  test,
  APP_URL,
  EXISTING_USER,
  JWT_PATTERN,
  expectProfile,
  newPerson,
  open,
  signIn,
  signUpOrCreate,
} from "./support";

test("the header knows who is signed in, and signs them out", EXISTING_USER, async ({ page }) => {
  await open(page, "/");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Sign up or sign in" })).toBeVisible();
  await expect(nav.getByRole("button", { name: "Sign out" })).toHaveCount(0);

  const person = newPerson("email", "Header Person");
  await signUpOrCreate(page, person);
  await expect(page.getByTestId("signed-in-as")).toHaveText("Signed in as Header Person");
  await expect(nav.getByRole("link", { name: "Profile" })).toBeVisible();

  // On the next page the header still knows.
  await nav.getByRole("link", { name: "Profile" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText("Signed in as Header Person");

  await nav.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(nav.getByRole("link", { name: "Sign up or sign in" })).toBeVisible();
  await expect(page.getByTestId("signed-in-as")).toHaveCount(0);
});

test("signing out everywhere in one browser signs the same person out of another browser", EXISTING_USER, async ({
  browser,
  page,
}) => {
  const person = newPerson("email", "Ada Lovelace");
  await signUpOrCreate(page, person); // browser A

  const contextB = await browser.newContext({ baseURL: APP_URL });
  try {
    const pageB = await contextB.newPage();
    await signIn(pageB, person); // browser B, same person
    await pageB.goto("/profile");
    await expectProfile(pageB, "Ada Lovelace");

    // A signs out everywhere and is sent to sign in.
    await page.getByRole("button", { name: "Sign out everywhere", exact: true }).click();
    await expect(page).toHaveURL(/\/sign-in$/);

    // B's next visit to the profile is refused: its session was ended from A.
    await pageB.goto("/profile");
    await expect(pageB).toHaveURL(/\/sign-in\?next=%2Fprofile$/);
    await expect(pageB.getByRole("heading", { level: 1 })).toHaveText("Sign in");

    // And A is signed out too.
    await page.goto("/profile");
    await expect(page).toHaveURL(/\/sign-in\?next=%2Fprofile$/);
  } finally {
    await contextB.close();
  }
});

test("after signing in, the page holds no token and the only cookie is the opaque HttpOnly session id", EXISTING_USER, async ({
  page,
  context,
}) => {
  const person = newPerson("email", "Grace Hopper");
  await signUpOrCreate(page, person);

  // Both the hydrated page and a fresh server render of it.
  expect(await page.content()).not.toMatch(JWT_PATTERN);
  await page.reload();
  await expectProfile(page, "Grace Hopper");
  const html = await page.content();
  expect(html).toContain(person.loginId);
  expect(html).not.toMatch(JWT_PATTERN);

  const cookies = await context.cookies();
  expect(cookies.map((c) => c.name)).toEqual(["sid"]);
  const [sid] = cookies;
  expect(sid.httpOnly).toBe(true);
  expect(sid.sameSite).toBe("Lax");
  expect(sid.path).toBe("/");
  expect(sid.value).not.toMatch(JWT_PATTERN);
  // Scripts cannot read it.
  expect(await page.evaluate(() => document.cookie)).toBe("");
});
