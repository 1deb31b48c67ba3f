// The one-time-code journeys with JavaScript on: sign up (also with a second contact, and with an
// address that already has an account), sign in, sign-up-or-in, a wrong code, the gated profile
// and the `next` round trip, and the phone channels.

import {
  expect,
  test,
  EXISTING_USER,
  enterCode,
  expectProfile,
  LOGIN_ID_LABEL,
  latestId,
  newPerson,
  open,
  prepareAccount,
  purposeOf,
  requestCode,
  signOut,
  signUp,
  signUpOrCreate,
  uniqueEmail,
  wrongCodeFor,
} from "./support";

// Tagged @release: .ci/test also runs it against the release build, whose wasm went through
// wasm-opt, to prove that build hydrates.
test("a new person signs up by email and lands on a profile showing their name and verified email", { tag: "@release" }, async ({
  page,
}) => {
  const person = newPerson("email", "Ada Lovelace");
  const message = await requestCode(page, { ...person, path: "/sign-up" });
  expect(message.purpose).toBe("signup");
  expect(message.destination).toBe(person.loginId);

  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enter your code");
  await expect(page.locator(".masked")).toContainText("@example.com");

  await enterCode(page, message.code);
  await expectProfile(page, "Ada Lovelace");
  await expect(page.getByTestId("email")).toContainText(`${person.loginId} (verified)`);
  await expect(page.locator("dl.details")).toContainText(person.loginId);
});

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

test("an existing person signs out and signs in again with a new code", EXISTING_USER, async ({ page }) => {
  const person = newPerson("email", "Grace Hopper");
  await signUpOrCreate(page, person);
  await signOut(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    "Passwordless sign-in with one-time codes",
  );

  const message = await requestCode(page, {
    method: "email",
    loginId: person.loginId,
    path: "/sign-in",
  });
  expect(message.purpose).toBe(purposeOf("signin"));
  await enterCode(page, message.code);
  await expectProfile(page, "Grace Hopper");
  await expect(page.getByTestId("email")).toContainText(`${person.loginId} (verified)`);
});

test("signing in with an address that has no account looks like any sign-in and sends nothing", async ({
  page,
}) => {
  const { loginId } = newPerson("email");
  await open(page, "/sign-in");
  await page.getByLabel(LOGIN_ID_LABEL).fill(loginId);
  await page.getByRole("button", { name: "Send me a code", exact: true }).click();
  // The page a known address gets, worded so that it tells no one whether an account exists.
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByText("If an account exists for")).toBeVisible();
  await page.getByLabel("Code", { exact: true }).fill("123456");
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("That code is not right");
  // No code was sent to an address without an account.
  expect(await latestId(loginId)).toBe(0);
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

test("sign-up-or-in creates an account for a new address and signs the same address in the next time", async ({
  page,
}) => {
  const { loginId } = newPerson("email");

  const first = await requestCode(page, { loginId });
  expect(first.purpose).toBe("signup-in");
  await enterCode(page, first.code);
  await expectProfile(page);
  await expect(page.getByTestId("email")).toContainText(`${loginId} (verified)`);
  const userId = await page.locator("dt:text-is('User id') + dd").innerText();

  await signOut(page);

  const second = await requestCode(page, { loginId });
  expect(second.code).not.toBe("");
  await enterCode(page, second.code);
  await expectProfile(page);
  await expect(page.getByTestId("email")).toContainText(`${loginId} (verified)`);
  // The same account, not a second one.
  await expect(page.locator("dt:text-is('User id') + dd")).toHaveText(userId);
});

test("a wrong code shows its message and marks the field invalid, and the right code then works", EXISTING_USER, async ({
  page,
}) => {
  const loginId = uniqueEmail();
  await prepareAccount({ method: "email", loginId }); // no name: the profile says "Your profile"
  const { code } = await requestCode(page, { loginId });
  const field = page.getByLabel("Code", { exact: true });
  await expect(field).toHaveAttribute("aria-invalid", "false");

  await enterCode(page, wrongCodeFor(code));
  await expect(page.getByRole("alert")).toContainText("That code is not right");
  await expect(field).toHaveAttribute("aria-invalid", "true");
  await expect(field).toHaveAttribute("aria-describedby", "form-error");
  await expect(page.locator("#form-error")).toContainText("That code is not right");
  await expect(page).toHaveURL(/\/verify$/);
  // The field is cleared and focused for the next try.
  await expect(field).toHaveValue("");
  await expect(field).toBeFocused();

  await enterCode(page, code);
  await expectProfile(page);
  await expect(page.getByTestId("email")).toContainText(`${loginId} (verified)`);
});

test("opening the profile while signed out ends on the sign-in page", async ({ page }) => {
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/sign-in\?next=(%2F|\/)profile$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in");
});

test("signing out closes the profile, and signing in from the redirect brings the person back to it", EXISTING_USER, async ({
  page,
}) => {
  const person = newPerson("email", "Katherine Johnson");
  await signUpOrCreate(page, person);
  await signOut(page);

  await page.goto("/profile");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fprofile$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in");
  await expect(page.locator("input[name=next]")).toHaveValue("/profile");

  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const { code } = await requestCode(page, {
    loginId: person.loginId,
    path: "/sign-in?next=%2Fprofile",
    alreadyOpen: true,
  });
  await enterCode(page, code);
  await expectProfile(page, "Katherine Johnson");
});

test("signing in from a redirect off another gated page goes back to that page, not the default", EXISTING_USER, async ({
  page,
}) => {
  const person = newPerson("email", "Mary Jackson");
  await signUpOrCreate(page, person);
  await signOut(page);

  await page.goto("/profile/email");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fprofile%2Femail$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const { code } = await requestCode(page, {
    loginId: person.loginId,
    path: "/sign-in?next=%2Fprofile%2Femail",
    alreadyOpen: true,
  });
  await enterCode(page, code);
  await expect(page).toHaveURL(/\/profile\/email$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Change your email address");
});

for (const method of ["voice", "whatsapp"] as const) {
  test(`a person with a phone number signs in by ${method === "voice" ? "voice call" : "WhatsApp"} and the code goes out on that channel`, EXISTING_USER, async ({
    page,
  }) => {
    const person = newPerson("sms", "Hedy Lamarr");
    await signUpOrCreate(page, person);
    await expect(page.getByTestId("phone")).toContainText(`${person.loginId} (verified)`);
    await signOut(page);

    const message = await requestCode(page, { method, loginId: person.loginId, path: "/sign-in" });
    expect(message.channel).toBe(method);
    expect(message.destination).toBe(person.loginId);
    expect(message.purpose).toBe(purposeOf("signin"));
    await expect(page.getByText(method === "voice" ? /to read out a code/ : /sent (it )?a code on WhatsApp/)).toBeVisible();

    await enterCode(page, message.code);
    await expectProfile(page, "Hedy Lamarr");
    await expect(page.getByTestId("phone")).toContainText(`${person.loginId} (verified)`);
  });
}
