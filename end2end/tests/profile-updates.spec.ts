// Changing the email address and the phone number of a signed-in person: to an address another
// account already has, as a new login id, and by a voice call. The sign-up a moment earlier is
// recent enough (under 10 minutes) that no step-up code is asked for: the code goes straight to
// the new address.

import {
  expect,
  test,
  codeSentBy,
  enterCode,
  expectProfile,
  newPerson,
  open,
  requestCode,
  signOut,
  signUp,
  uniqueEmail,
  uniquePhone,
} from "./support";

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
