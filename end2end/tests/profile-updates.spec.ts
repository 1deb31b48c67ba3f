// Changing the email address and the phone number of a signed-in person. The sign-up a moment
// earlier is recent enough (under 10 minutes) that no step-up code is asked for: the code goes
// straight to the new address.

import { expect, test, codeSentBy, enterCode, expectProfile, newPerson, signUp, uniqueEmail, uniquePhone } from "./support";

test("a signed-in person changes their email; the code goes to the new address and the profile shows it verified", async ({
  page,
}) => {
  const person = newPerson("email", "Ada Lovelace");
  await signUp(page, person);

  await page.getByTestId("email").getByRole("link", { name: "Change" }).click();
  await expect(page).toHaveURL(/\/profile\/email$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Change your email address");

  const newEmail = uniqueEmail("new");
  await page.getByLabel("New email address").fill(newEmail);
  const message = await codeSentBy(newEmail, () =>
    page.getByRole("button", { name: "Send a code", exact: true }).click(),
  );
  expect(message.destination).toBe(newEmail);
  expect(message.channel).toBe("email");
  expect(message.purpose).toBe("update-email");

  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Confirm your new email address");
  await enterCode(page, message.code);

  await expectProfile(page, "Ada Lovelace");
  await expect(page.getByTestId("email")).toContainText(`${newEmail} (verified)`);
  await expect(page.getByTestId("email")).not.toContainText(person.loginId);
});

test("a signed-in person changes their phone by text message and the profile shows it verified", async ({
  page,
}) => {
  const person = newPerson("email", "Grace Hopper");
  await signUp(page, person);
  await expect(page.getByTestId("phone")).toContainText("—");

  await page.getByTestId("phone").getByRole("link", { name: "Change" }).click();
  await expect(page).toHaveURL(/\/profile\/phone$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Change your phone number");

  const phone = uniquePhone();
  await expect(page.getByRole("radio", { name: "Text message (SMS)" })).toBeChecked();
  await page.getByLabel("New phone number").fill(phone);
  const message = await codeSentBy(phone, () =>
    page.getByRole("button", { name: "Send a code", exact: true }).click(),
  );
  expect(message.destination).toBe(phone);
  expect(message.channel).toBe("sms");
  expect(message.purpose).toBe("update-phone");

  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Confirm your new phone number");
  await enterCode(page, message.code);

  await expectProfile(page, "Grace Hopper");
  await expect(page.getByTestId("phone")).toContainText(`${phone} (verified)`);
  // The email the person signed up with is untouched.
  await expect(page.getByTestId("email")).toContainText(`${person.loginId} (verified)`);
});
