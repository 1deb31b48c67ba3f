// The README's pictures: one full-page screenshot of every page, written to end2end/screenshots/.
// Each is taken once the page is interactive and shows what the picture is for, so a broken page
// fails this test instead of ending up in the README.

import type { Page } from "@playwright/test";
import * as path from "node:path";
import {
  expect,
  test,
  EMULATOR_URL,
  enterCode,
  expectProfile,
  open,
  requestCode,
  uniqueEmail,
  wrongCodeFor,
} from "./support";

const DIR = path.join(__dirname, "..", "screenshots");

async function shoot(page: Page, name: string): Promise<void> {
  // Nothing may be mid-transition (a button showing "Sending…") in a README picture.
  await expect(page.locator("[aria-busy=true]")).toHaveCount(0);
  await page.screenshot({ path: path.join(DIR, `${name}.png`), fullPage: true, animations: "disabled" });
}

test.use({ viewport: { width: 1000, height: 800 }, deviceScaleFactor: 1 });

test("screenshots of every page are written for the README", async ({ page }) => {
  // Start the outbox picture from an empty outbox so it shows this journey's codes only. Safe
  // with `workers: 1` (outbox ids keep increasing across a clear, so no cursor goes backwards).
  const cleared = await fetch(`${EMULATOR_URL}/emulator/outbox`, { method: "DELETE" });
  expect(cleared.ok).toBe(true);

  await open(page, "/");
  await expect(page.getByRole("link", { name: "Local emulator · outbox" })).toBeVisible();
  await shoot(page, "home");

  await open(page, "/sign-up-or-in");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign up or sign in");
  await shoot(page, "sign-up-or-in");

  await open(page, "/sign-up");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Create an account");
  await shoot(page, "sign-up");

  await open(page, "/sign-in");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in");
  await shoot(page, "sign-in");

  const loginId = uniqueEmail("ada");
  // Custom claims, so that the profile picture shows them too.
  const { code } = await requestCode(page, {
    loginId,
    path: "/sign-up",
    name: "Ada Lovelace",
    customClaims: '{"plan": "pro"}',
  });
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enter your code");
  await shoot(page, "verify");

  await enterCode(page, wrongCodeFor(code));
  await expect(page.getByRole("alert")).toContainText("That code is not right");
  await expect(page.getByLabel("Code", { exact: true })).toHaveValue(""); // the page has handled it
  await shoot(page, "verify-with-error");

  await enterCode(page, code);
  await expectProfile(page, "Ada Lovelace");
  await expect(page.getByTestId("email")).toContainText(`${loginId} (verified)`);
  await expect(page.locator("dl.claims")).toContainText("plan");
  await shoot(page, "profile");

  await open(page, "/profile/email");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Change your email address");
  await shoot(page, "update-email");

  await open(page, "/profile/phone");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Change your phone number");
  await shoot(page, "update-phone");

  const notFound = await page.goto("/no-such-page");
  expect(notFound?.status()).toBe(404);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");
  await shoot(page, "not-found");

  await page.goto(`${EMULATOR_URL}/outbox`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Descope emulator outbox");
  await expect(page.locator("td.code").first()).toHaveText(code);
  await shoot(page, "outbox");
});
