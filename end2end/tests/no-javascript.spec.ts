// The forms are plain HTML forms underneath: with JavaScript off every step is a POST that the
// server answers with a redirect, and errors come back on the redirected page.

import { expect, test, enterCode, expectProfile, newPerson, requestCode, wrongCodeFor } from "./support";

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
});
