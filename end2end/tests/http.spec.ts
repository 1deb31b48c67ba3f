// Status codes a crawler, a proxy or a form post without JavaScript relies on.

import type { APIRequestContext } from "@playwright/test";
import { expect, test } from "./support";

/** The site header as the server sent it, or "" if the page has none. */
function headerOf(html: string): string {
  return html.match(/<header[^]*?<\/header>/)?.[0] ?? "";
}

test("an unknown address answers 404 with the not-found page", async ({ request, page }) => {
  const response = await request.get("/no-such-page", { maxRedirects: 0 });
  expect(response.status()).toBe(404);
  const html = await response.text();
  expect(html).toContain("Page not found");
  expect(headerOf(html)).toContain('<nav aria-label="Main">');

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

test("the public pages answer 200, with the header's navigation in the HTML as sent", async ({ request }) => {
  for (const path of ["/", "/sign-up-or-in", "/sign-up", "/sign-in", "/verify"]) {
    const response = await request.get(path, { maxRedirects: 0 });
    expect(response.status(), path).toBe(200);
    // In place, not streamed after the page for a script to move in: it must show without
    // JavaScript.
    expect(headerOf(await response.text()), path).toContain('<nav aria-label="Main">');
  }
});

test("pages carry a strict Content-Security-Policy with a fresh nonce, and hydrate under it", { tag: "@release" }, async ({
  page,
}) => {
  const response = await page.goto("/sign-up-or-in");
  const csp = response?.headers()["content-security-policy"] ?? "";
  expect(csp).toMatch(/script-src 'self' 'nonce-[\w-]{16,}' 'wasm-unsafe-eval'/);
  expect(csp).not.toContain("unsafe-inline");
  expect(response?.headers()["x-frame-options"]).toBe("DENY");
  // Hydration ran: its script carried the nonce (a blocked script would be a console error).
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const again = await page.goto("/sign-up-or-in");
  expect(again?.headers()["content-security-policy"]).not.toBe(csp);
});

test("a form post from another site is refused and sends nothing", async ({ request }) => {
  const response = await request.post("/api/otp/sign-up-or-in", {
    form: { method: "email", login_id: "relay@example.com" },
    headers: { Origin: "https://evil.example", Accept: "text/html" },
    maxRedirects: 0,
  });
  expect(response.status()).toBe(403);
  expect(await response.text()).toContain("came from another site");
});

/**
 * The stylesheet, JS loader and wasm a page links: `/pkg/descope-otp.<hash>.css` and so on from
 * `.ci/build-site`, which puts the build's content hash in their names; plain names from a site
 * built without it (`cargo leptos`).
 */
async function siteFiles(request: APIRequestContext): Promise<Record<"css" | "js" | "wasm", string>> {
  const html = await (await request.get("/")).text();
  const linked = (ext: string) => {
    const path = html.match(new RegExp(`href="(/pkg/[\\w.-]+\\.${ext})"`))?.[1];
    expect(path, `the page links a .${ext}`).toBeTruthy();
    return path as string;
  };
  return { css: linked("css"), js: linked("js"), wasm: linked("wasm") };
}

/** Whether a site file's name carries a content hash (`descope-otp.0a1b2c3d4e5f6789.css`). */
const HASHED = /\/[\w-]+\.[0-9a-f]{8,64}\.\w+$/;

test("site files are kept by the browser: a hashed name for good, any other asked for again before each use", { tag: "@release" }, async ({
  request,
}) => {
  const { css, js, wasm } = await siteFiles(request);
  // The journeys run on sites built by .ci/build-site, which hashes these three names.
  for (const path of [css, js, wasm]) expect(path).toMatch(HASHED);
  for (const path of [css, js, wasm, "/robots.txt"]) {
    const first = await request.get(path);
    expect(first.status(), path).toBe(200);
    // A hashed name never changes content: kept for a year, never asked again. Any other name
    // may keep its name across builds: kept, but checked again before each use.
    expect(first.headers()["cache-control"], path).toBe(
      HASHED.test(path) ? "public, max-age=31536000, immutable" : "no-cache",
    );
    const lastModified = first.headers()["last-modified"];
    expect(lastModified, path).toBeTruthy();
    if (path === "/robots.txt") continue;
    expect(first.headers()["vary"]?.toLowerCase(), path).toContain("accept-encoding");
    // Every encoding (the release build's compressed copies too) has the file's own time.
    for (const encoding of ["identity", "gzip", "br"]) {
      const again = await request.get(path, {
        headers: { "accept-encoding": encoding, "if-modified-since": lastModified },
      });
      expect(again.status(), `${path} ${encoding}`).toBe(304);
    }
  }
});

test("the release build sends the wasm compressed", { tag: "@release" }, async ({ request }) => {
  test.skip(
    process.env.E2E_BUILD !== "release",
    "only the release build writes compressed copies (.ci/build-site --release); .ci/test runs this on it",
  );
  const path = (await siteFiles(request)).wasm;
  const plain = await request.get(path, { headers: { "accept-encoding": "identity" } });
  expect(plain.status()).toBe(200);
  expect(plain.headers()["content-encoding"]).toBeUndefined();
  const raw = Number(plain.headers()["content-length"]);
  expect(raw).toBeGreaterThan(100_000);

  for (const encoding of ["br", "gzip"]) {
    const response = await request.get(path, { headers: { "accept-encoding": encoding } });
    expect(response.status(), encoding).toBe(200);
    expect(response.headers()["content-encoding"], encoding).toBe(encoding);
    expect(response.headers()["content-type"], encoding).toBe("application/wasm");
    expect(response.headers()["vary"]?.toLowerCase(), encoding).toContain("accept-encoding");
    // The bytes on the wire: well under half of the raw wasm.
    expect(Number(response.headers()["content-length"]), encoding).toBeLessThan(raw / 2);
  }
});
