// Journeys around the edges: second contacts, addresses already taken, the header's link to the
// gated profile, and the phone update by another channel.

import {
  expect,
  test,
  EXISTING_USER,
  LOGIN_ID_LABEL,
  codeSentBy,
  enterCode,
  expectProfile,
  latestId,
  newPerson,
  open,
  requestCode,
  signOut,
  signUp,
  signUpOrCreate,
  uniqueEmail,
  uniquePhone,
} from "./support";

test("a person signs up by text message with a second email, which the profile shows as not yet verified", async ({
  page,
}) => {
  const person = newPerson("sms", "Hedy Lamarr");
  const email = uniqueEmail("second");
  await open(page, "/sign-up");
  await page.getByText("Add a second contact (optional)").click();
  await page.getByLabel("Email address", { exact: true }).fill(email);
  const { code } = await requestCode(page, { ...person, path: "/sign-up", alreadyOpen: true });
  await enterCode(page, code);
  await expectProfile(page, "Hedy Lamarr");
  await expect(page.getByTestId("phone")).toContainText(`${person.loginId} (verified)`);
  await expect(page.getByTestId("email")).toContainText(`${email} (not verified)`);
});

test("signing up with an address that already has an account reveals nothing and signs its owner in", async ({
  page,
}) => {
  const person = newPerson("email");
  await signUp(page, person);
  await signOut(page);

  // The same code page as any sign-up (no "already registered"), and the code signs the owner in.
  const message = await requestCode(page, { path: "/sign-up", loginId: person.loginId, name: "Someone Else" });
  await expect(page.getByRole("alert")).toHaveCount(0);
  await enterCode(page, message.code);
  await expectProfile(page, person.name);
});

test("opening the profile while signed out ends on the sign-in page", async ({ page }) => {
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/sign-in\?next=(%2F|\/)profile$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in");
});

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

test("the code page with no code waiting says so and links to get one", async ({ page }) => {
  await open(page, "/verify");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("No code waiting");
  await page.getByRole("link", { name: "Get a code" }).click();
  await expect(page).toHaveURL(/\/sign-up-or-in$/);
});

test("changing the email to one that belongs to another account looks like any change, and no code opens it", async ({
  page,
}) => {
  const other = newPerson("email");
  await signUp(page, other);
  await signOut(page);

  await signUp(page, newPerson("email"));
  await open(page, "/profile/email");
  await page.getByLabel("New email address").fill(other.loginId);
  // The same code page as for a free address: whether the address has an account stays unsaid.
  await page.getByRole("button", { name: "Send a code", exact: true }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await enterCode(page, "000000");
  await expect(page.getByRole("alert")).toContainText("That code is not right");
});

test("a new email can also become a login id, and the person can then sign in with it", async ({
  page,
}) => {
  const person = newPerson("email", "Ada Lovelace");
  await signUp(page, person);
  await open(page, "/profile/email");
  const newEmail = uniqueEmail("login");
  await page.getByLabel("New email address").fill(newEmail);
  await page.getByLabel("Also let me sign in with this address").check();
  const { code } = await codeSentBy(newEmail, () =>
    page.getByRole("button", { name: "Send a code", exact: true }).click(),
  );
  await enterCode(page, code);
  await expectProfile(page, "Ada Lovelace");
  await expect(page.locator("dt:text-is('Login ids') + dd li")).toContainText([newEmail]);

  await signOut(page);
  const message = await requestCode(page, { loginId: newEmail, path: "/sign-in" });
  await enterCode(page, message.code);
  await expectProfile(page, "Ada Lovelace");
});

test("a phone number can be changed with a code read out by a voice call", async ({ page }) => {
  await signUp(page, newPerson("email", "Katherine Johnson"));
  await open(page, "/profile/phone");
  const phone = uniquePhone();
  await page.getByLabel("Voice call", { exact: true }).check();
  await page.getByLabel("New phone number").fill(phone);
  const message = await codeSentBy(phone, () =>
    page.getByRole("button", { name: "Send a code", exact: true }).click(),
  );
  expect(message.channel).toBe("voice");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Confirm your new phone number");
  await enterCode(page, message.code);
  await expectProfile(page, "Katherine Johnson");
  await expect(page.getByTestId("phone")).toContainText(`${phone} (verified)`);
});

test.describe("with JavaScript disabled", () => {
  test.use({ javaScriptEnabled: false });

  test("signing in with an unknown address goes to the code page like any other, and sends nothing", async ({
    page,
  }) => {
    const { loginId } = newPerson("email");
    await page.goto("/sign-in");
    await page.getByLabel(LOGIN_ID_LABEL).fill(loginId);
    await page.getByRole("button", { name: "Send me a code", exact: true }).click();
    await expect(page).toHaveURL(/\/verify$/);
    await expect(page.getByText("If an account exists for")).toBeVisible();
    expect(await latestId(loginId)).toBe(0);
  });

  test("Use a different address works as a plain form and goes back to the form the code came from", async ({
    page,
  }) => {
    await requestCode(page, { loginId: newPerson("email").loginId, path: "/sign-up", hydrated: false });
    await page.getByRole("button", { name: "Use a different address", exact: true }).click();
    await expect(page).toHaveURL(/\/sign-up$/);
    await page.goto("/verify");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("No code waiting");
  });

  test("a person signs up by text message, changes their email and signs out, all without JavaScript", async ({
    page,
  }) => {
    const person = newPerson("sms", "Grace Hopper");
    await signUp(page, person, { hydrated: false });
    await page.goto("/profile/email");
    const newEmail = uniqueEmail("nojs");
    await page.getByLabel("New email address").fill(newEmail);
    const { code } = await codeSentBy(newEmail, () =>
      page.getByRole("button", { name: "Send a code", exact: true }).click(),
    );
    await expect(page).toHaveURL(/\/verify$/);
    await enterCode(page, code);
    await expectProfile(page, "Grace Hopper");
    await expect(page.getByTestId("email")).toContainText(`${newEmail} (verified)`);
    await page.getByRole("button", { name: "Sign out everywhere", exact: true }).click();
    await expect(page).toHaveURL(/\/sign-in$/);
  });
});
