// Accessibility basics of the forms: names for every control, errors announced, keyboard use.

import type { Locator, Page } from "@playwright/test";
import {
  expect,
  test,
  LOGIN_ID_LABEL,
  METHOD_LABEL,
  expectProfile,
  newPerson,
  open,
  requestCode,
  signUp,
  waitForCode,
  latestId,
} from "./support";

/** Every visible form control on the page has a non-empty accessible name. */
async function expectEveryControlNamed(page: Page): Promise<void> {
  const controls = page.locator("main").locator("input:not([type=hidden]), select, textarea, button");
  const count = await controls.count();
  expect(count).toBeGreaterThan(0);
  for (let i = 0; i < count; i++) {
    const control = controls.nth(i);
    if (!(await control.isVisible())) continue;
    const id = await control.evaluate((el) => el.outerHTML.slice(0, 120));
    await expect(control, id).toHaveAccessibleName(/\S/);
  }
}

/** Presses Tab until `target` has the focus (or fails after `max` presses). */
async function tabTo(page: Page, target: Locator, max = 30): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  await expect(target).toBeFocused();
}

test("every input of the sign-up, sign-in and sign-up-or-in forms is found by its label", async ({
  page,
}) => {
  for (const path of ["/sign-up-or-in", "/sign-in", "/sign-up"]) {
    await open(page, path);
    for (const label of Object.values(METHOD_LABEL)) {
      await expect(page.getByLabel(label, { exact: true })).toHaveAttribute("type", "radio");
    }
    await expect(page.getByRole("group", { name: "Send my code by" })).toBeVisible();
    await expect(page.getByLabel(LOGIN_ID_LABEL)).toHaveAttribute("id", "login_id");
    await expectEveryControlNamed(page);
  }
  // The sign-up extras, including the folded second contact.
  await page.getByText("Add a second contact (optional)").click();
  await expect(page.getByLabel(/^Name/)).toHaveAttribute("id", "name");
  await expect(page.getByLabel("Email address", { exact: true })).toHaveAttribute("id", "email");
  await expect(page.getByLabel("Phone number", { exact: true })).toHaveAttribute("id", "phone");
  await expectEveryControlNamed(page);
});

test("the code page and the change-address forms name every input", async ({ page }) => {
  const person = newPerson("email");
  await signUp(page, person);

  await open(page, "/profile/email");
  await expect(page.getByLabel("New email address")).toHaveAttribute("type", "email");
  await expect(page.getByLabel("Also let me sign in with this address")).toHaveAttribute("type", "checkbox");
  await expectEveryControlNamed(page);

  await open(page, "/profile/phone");
  await expect(page.getByLabel("New phone number")).toHaveAttribute("type", "tel");
  for (const label of ["Text message (SMS)", "Voice call", "WhatsApp"]) {
    await expect(page.getByLabel(label, { exact: true })).toHaveAttribute("type", "radio");
  }
  await expectEveryControlNamed(page);

  await requestCode(page, { loginId: newPerson().loginId });
  await expect(page.getByLabel("Code", { exact: true })).toHaveAttribute("inputmode", "numeric");
  await expectEveryControlNamed(page);
});

test("a form error is announced in a role=alert banner and marks the field it is about", async ({
  page,
}) => {
  await open(page, "/sign-up-or-in");
  const field = page.getByLabel(LOGIN_ID_LABEL);
  await expect(field).toHaveAttribute("aria-invalid", "false");
  await field.fill("not-an-email");
  await page.getByRole("button", { name: "Send me a code" }).click();

  const alert = page.getByRole("alert");
  await expect(alert).toContainText("That doesn't look like an email address");
  await expect(field).toHaveAttribute("aria-invalid", "true");
  // The field's description includes the error, so a screen reader reads it with the field.
  await expect(field).toHaveAttribute("aria-describedby", /\bform-error\b/);
  await expect(page.locator("#form-error")).toBeVisible();
  await expect(page).toHaveURL(/\/sign-up-or-in$/);

  // A phone method with an address that is not a number gets its own message.
  await page.getByLabel(METHOD_LABEL.sms, { exact: true }).check();
  await field.fill("nobody@example.com");
  await page.getByRole("button", { name: "Send me a code" }).click();
  await expect(alert).toContainText("Start the number with +");
});

test("a keyboard-only person reaches the field with Tab, types, and submits with Enter, through to the profile", async ({
  page,
}) => {
  const { loginId } = newPerson("email");
  await open(page, "/sign-up-or-in");
  const field = page.getByLabel(LOGIN_ID_LABEL);
  await tabTo(page, field);
  await page.keyboard.type(loginId);
  await expect(field).toHaveValue(loginId);

  const after = await latestId();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/verify$/);
  const { code } = await waitForCode(loginId, after);

  const codeField = page.getByLabel("Code", { exact: true });
  await tabTo(page, codeField);
  await page.keyboard.type(code);
  await page.keyboard.press("Enter");
  await expectProfile(page);
  await expect(page.getByTestId("email")).toContainText(`${loginId} (verified)`);
});

test("every page has its own title, and a skip link to the main content", async ({ page }) => {
  const titles: Record<string, string> = {
    "/": "Passwordless sign-in with one-time codes · Descope OTP",
    "/sign-up-or-in": "Sign up or sign in · Descope OTP",
    "/sign-up": "Sign up · Descope OTP",
    "/sign-in": "Sign in · Descope OTP",
    "/verify": "Enter your code · Descope OTP",
    "/no-such-page": "Page not found · Descope OTP",
  };
  for (const [path, title] of Object.entries(titles)) {
    await open(page, path);
    await expect(page, path).toHaveTitle(title);
  }
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await expect(skip).toHaveAttribute("href", "#main");
  await expect(page.locator("main#main")).toHaveCount(1);

  await signUp(page, newPerson("email"));
  await expect(page).toHaveTitle("Your profile · Descope OTP");
  await open(page, "/profile/email");
  await expect(page).toHaveTitle("Change your email · Descope OTP");
  await open(page, "/profile/phone");
  await expect(page).toHaveTitle("Change your phone number · Descope OTP");
});
