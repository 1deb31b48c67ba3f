// The code page: where the code went, its two ways out of a code that did not arrive ("Send a new
// code" after its cooldown, and "Use a different address"), and what it says with no code waiting.

import { expect, test, codeSentBy, enterCode, expectProfile, newPerson, open, requestCode } from "./support";

test(
  "after the cooldown, Send a new code is enabled and sends a new code that works",
  async ({ page }) => {
    const { loginId } = newPerson("email");
    const first = await requestCode(page, { loginId });

    const resend = page.getByRole("button", { name: "Send a new code", exact: true });
    await expect(resend).toBeDisabled();
    const cooldown = page.getByText(/You can ask for a new code in \d+ s\./);
    await expect(cooldown).toBeVisible();
    const seconds = Number((await cooldown.innerText()).match(/(\d+) s/)?.[1]);
    expect(seconds).toBeGreaterThan(0);

    // Wait on the page itself for the cooldown to end (no fixed sleep).
    test.setTimeout((seconds + 30) * 1000);
    await expect(resend).toBeEnabled({ timeout: (seconds + 5) * 1000 });
    await expect(cooldown).toHaveCount(0);

    const second = await codeSentBy(loginId, () => resend.click());
    expect(second.id).toBeGreaterThan(first.id);
    await expect(page).toHaveURL(/\/verify$/);
    await expect(resend).toBeDisabled();
    await expect(page.getByText(/You can ask for a new code in \d+ s\./)).toBeVisible();

    await enterCode(page, second.code);
    await expectProfile(page);
  },
);

test("the code page shows where the code went and counts down before a new code may be sent", async ({
  page,
}) => {
  const { loginId } = newPerson("email");
  await requestCode(page, { loginId });

  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enter your code");
  await expect(page.getByText(/^We emailed a code to/)).toBeVisible();
  const masked = page.locator("strong.masked");
  await expect(masked).toContainText("@example.com");
  await expect(masked).not.toContainText(loginId);
  await expect(page.locator("#code")).toHaveAttribute("autocomplete", "one-time-code");

  // The countdown runs once hydrated.
  const cooldown = page.locator(".cooldown");
  const start = Number((await cooldown.innerText()).match(/in (\d+) s\./)?.[1]);
  expect(start).toBeGreaterThan(1);
  await expect(cooldown).toHaveText(new RegExp(`in (${start - 1}|${start - 2}) s\\.`));
});

test("Use a different address forgets the waiting code and goes back to the form it came from", async ({
  page,
}) => {
  const { loginId } = newPerson("email");
  // From /sign-up, so that the way back is distinguishable from the default (/sign-up-or-in).
  await requestCode(page, { loginId, path: "/sign-up" });

  await page.getByRole("button", { name: "Use a different address", exact: true }).click();
  await expect(page).toHaveURL(/\/sign-up$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Create an account");

  await open(page, "/verify");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("No code waiting");
  await expect(page.getByRole("link", { name: "Get a code" })).toHaveAttribute("href", "/sign-up-or-in");
});

test("the code page with no code waiting says so and links to get one", async ({ page }) => {
  await open(page, "/verify");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("No code waiting");
  await page.getByRole("link", { name: "Get a code" }).click();
  await expect(page).toHaveURL(/\/sign-up-or-in$/);
});
