// Status codes a crawler, a proxy or a form post without JavaScript relies on.

import { expect, test } from "./support";

test("an unknown address answers 404 with the not-found page", async ({ request, page }) => {
  const response = await request.get("/no-such-page", { maxRedirects: 0 });
  expect(response.status()).toBe(404);
  expect(await response.text()).toContain("Page not found");

  const navigation = await page.goto("/no/such/page");
  expect(navigation?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");
  await expect(page.getByRole("link", { name: "Go to the start page" })).toBeVisible();
});

test("a signed-out request for a gated page answers 303 to sign in, with the page as next", async ({
  request,
}) => {
  for (const [path, next] of [
    ["/profile", "%2Fprofile"],
    ["/profile/email", "%2Fprofile%2Femail"],
    ["/profile/phone", "%2Fprofile%2Fphone"],
  ]) {
    const response = await request.get(path, { maxRedirects: 0 });
    expect(response.status(), path).toBe(303);
    expect(response.headers()["location"], path).toBe(`/sign-in?next=${next}`);
  }
});

test("the public pages answer 200", async ({ request }) => {
  for (const path of ["/", "/sign-up-or-in", "/sign-up", "/sign-in"]) {
    const response = await request.get(path, { maxRedirects: 0 });
    expect(response.status(), path).toBe(200);
  }
});
