// The folded "Descope options" of the entry forms: custom claims land in the session token (and so
// on the profile), template options travel with the message, and a step-up marks the session.

import { expect, test, enterCode, expectProfile, newPerson, requestCode, signUp } from "./support";

test("custom claims from the form appear on the profile and template options reach the message", async ({
  page,
}) => {
  const { loginId } = newPerson("email");
  // Sign-up: template options go only into messages to an account that is the visitor's own.
  const message = await requestCode(page, {
    loginId,
    path: "/sign-up",
    customClaims: '{"plan": "pro", "seats": 3}',
    templateOptions: "greeting=Welcome back\nteam=Blue",
  });
  expect(message.templateOptions).toEqual({ greeting: "Welcome back", team: "Blue" });

  await enterCode(page, message.code);
  await expectProfile(page);
  await expect(page.getByRole("heading", { name: "Custom claims" })).toBeVisible();
  const claims = page.locator("dl.claims");
  await expect(claims.locator("dt")).toHaveText(["plan", "seats"]);
  await expect(claims.locator("dd")).toHaveText(['"pro"', "3"]);
});

test("a malformed custom claim is refused with a message on its field, and no code is sent", async ({
  page,
}) => {
  const { loginId } = newPerson("email");
  await page.goto("/sign-up-or-in");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email address or phone number").fill(loginId);
  await page.getByText("Descope options", { exact: true }).click();
  const claims = page.getByLabel(/^Custom claims/);
  await claims.fill("plan=pro");
  await page.getByRole("button", { name: "Send me a code", exact: true }).click();

  await expect(page.getByRole("alert")).toContainText("Custom claims must be a JSON object");
  await expect(claims).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/sign-up-or-in$/);
});

test("a signed-in person steps up from the sign-in form and the profile says the session is stepped up", async ({
  page,
}) => {
  const person = newPerson("email", "Ada Lovelace");
  await signUp(page, person);
  await expect(page.getByTestId("amr")).not.toContainText("stepped up");

  const { code } = await requestCode(page, {
    method: "email",
    loginId: person.loginId,
    path: "/sign-in",
    stepUp: true,
  });
  await enterCode(page, code);
  await expectProfile(page, "Ada Lovelace");
  await expect(page.getByTestId("amr")).toContainText("stepped up");
});
