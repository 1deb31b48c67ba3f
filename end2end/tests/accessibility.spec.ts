// Accessibility: an axe audit of every page, signed out and signed in, with and without a form
// error on screen; then the basics a rule engine cannot judge: names for every control, errors
// announced, keyboard use, page titles.

import AxeBuilder from "@axe-core/playwright";
import type { Locator, Page } from "@playwright/test";
import {
  expect,
  test,
  LOGIN_ID_LABEL,
  METHOD_LABEL,
  enterCode,
  expectProfile,
  newPerson,
  open,
  requestCode,
  signUp,
  waitForCode,
  wrongCodeFor,
  latestId,
} from "./support";

// ---------------------------------------------------------------------------------------------
// The axe audit.

/** The impacts that fail a page; "moderate" and "minor" findings are listed, not failed. */
const FAILING_IMPACTS = new Set(["serious", "critical"]);

/**
 * Runs axe-core's rules (WCAG 2.x A and AA, and its best practices) on the page as it is, every
 * `<details>` opened first so that what it folds away is audited too, and fails on any serious
 * or critical violation. The message lists every violation: its rule, impact, help and the
 * elements it found.
 */
async function expectNoSeriousViolations(page: Page, what: string): Promise<void> {
  await page.locator("details:not([open]) > summary").evaluateAll((summaries) => {
    for (const summary of summaries) (summary.parentElement as HTMLDetailsElement).open = true;
  });
  const { violations } = await new AxeBuilder({ page }).analyze();
  const fails = (v: (typeof violations)[number]) => FAILING_IMPACTS.has(v.impact ?? "");
  const lines = violations.map(
    (v) =>
      `  ${fails(v) ? "FAIL" : "note"} ${v.id} (${v.impact}): ${v.help}\n` +
      v.nodes.map((node) => `      at ${node.target.join(" ")}`).join("\n"),
  );
  const message = `axe on ${what} (${page.url()}):\n${lines.join("\n")}`;
  const failing = violations.filter(fails);
  if (violations.length > failing.length) console.log(message);
  expect(failing.length, message).toBe(0);
}

test("axe finds nothing serious on the signed-out pages, nor on the not-found page", async ({ page }) => {
  for (const path of ["/", "/sign-up-or-in", "/sign-up", "/sign-in", "/verify"]) {
    await open(page, path);
    await expectNoSeriousViolations(page, path);
  }
  const response = await open(page, "/no-such-page");
  expect(response?.status()).toBe(404);
  await expectNoSeriousViolations(page, "the not-found page");
});

test("axe finds nothing serious on the entry forms with an error shown", async ({ page }) => {
  const forms: [path: string, submit: string][] = [
    ["/sign-up-or-in", "Send me a code"],
    ["/sign-up", "Create account"],
    ["/sign-in", "Send me a code"],
  ];
  for (const [path, submit] of forms) {
    await open(page, path);
    await page.getByLabel(LOGIN_ID_LABEL).fill("not-an-email");
    await page.getByRole("button", { name: submit, exact: true }).click();
    await expect(page.getByRole("alert")).toContainText("doesn't look like an email address");
    await expectNoSeriousViolations(page, `${path} with an error`);
  }
});

test("axe finds nothing serious on the code page, the profile and the change forms, with and without an error", async ({
  page,
}) => {
  const person = newPerson("email");
  const { code } = await requestCode(page, { path: "/sign-up", ...person });
  await expectNoSeriousViolations(page, "the code page");
  await enterCode(page, wrongCodeFor(code));
  await expect(page.getByRole("alert")).toContainText("That code is not right");
  await expectNoSeriousViolations(page, "the code page after a wrong code");
  await enterCode(page, code);
  await expectProfile(page, person.name);
  await expectNoSeriousViolations(page, "the profile");

  await open(page, "/profile/email");
  await expectNoSeriousViolations(page, "the email form");
  // An address the browser's own check lets through (no dot in its domain) and the app refuses.
  await page.getByLabel("New email address").fill("nobody@localhost");
  await page.getByRole("button", { name: "Send a code", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("doesn't look like an email address");
  await expectNoSeriousViolations(page, "the email form with an error");

  await open(page, "/profile/phone");
  await expectNoSeriousViolations(page, "the phone form");
  await page.getByLabel("New phone number").fill("4155550100");
  await page.getByRole("button", { name: "Send a code", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("Start the number with +");
  await expectNoSeriousViolations(page, "the phone form with an error");
});

// ---------------------------------------------------------------------------------------------
// What axe cannot judge.

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
  // No error yet: the field is described by its hint alone, never by a banner that is not there.
  await expect(field).toHaveAttribute("aria-describedby", "login_id-hint");
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
