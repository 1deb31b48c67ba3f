// The forms are plain HTML forms underneath: with JavaScript off every step is a POST that the
// server answers with a redirect, and errors come back on the redirected page.

import {
  expect,
  test,
  LOGIN_ID_LABEL,
  codeSentBy,
  enterCode,
  expectProfile,
  latestId,
  newPerson,
  requestCode,
  signUp,
  uniqueEmail,
  wrongCodeFor,
} from "./support";

test.describe("with JavaScript disabled", () => {
  test.use({ javaScriptEnabled: false });

  test("a person signs up or in, sees a wrong code's message after the redirect, and reaches the profile", async ({
    page,
  }) => {
    const { loginId } = newPerson("email");
    const message = await requestCode(page, { loginId, hydrated: false });
    await expect(page.locator("body")).not.toHaveAttribute("data-hydrated", "true");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enter your code");
    await expect(page.locator(".masked")).toContainText("@example.com");

    // A wrong code: the server redirects back to the code page, which shows the error.
    await enterCode(page, wrongCodeFor(message.code));
    await expect(page).toHaveURL(/\/verify(\?.*)?$/);
    await expect(page.getByRole("alert")).toContainText("That code is not right");
    await expect(page.getByLabel("Code", { exact: true })).toHaveAttribute("aria-invalid", "true");

    await enterCode(page, message.code);
    await expectProfile(page);
    await expect(page.getByTestId("email")).toContainText(`${loginId} (verified)`);

    // The header knows who it is, without JavaScript, on the gated page and on a public one; its
    // sign-out works as a plain form too.
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(page.getByTestId("signed-in-as")).toContainText("Signed in as");
    await page.goto("/");
    await expect(page.getByTestId("signed-in-as")).toContainText("Signed in as");
    await nav.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(nav.getByRole("link", { name: "Sign up or sign in" })).toBeVisible();
    const response = await page.goto("/profile");
    expect(response?.url()).toMatch(/\/sign-in\?next=%2Fprofile$/);
  });

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
