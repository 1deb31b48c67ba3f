// Shared helpers for the journeys: where the app and its emulator are, fresh addresses, codes,
// and the few UI steps every journey repeats.
//
// Codes come from one of two sources, never hard-coded:
// - the emulator's dev outbox (the default): each helper that makes the app send a code notes
//   the newest outbox id first and then long-polls for a message to that destination with a
//   higher id, so an older code can never be picked up by mistake;
// - Descope's test-user API, when DESCOPE_MANAGEMENT_KEY is set: people are created as test
//   users, and once the app has asked for a code, the suite has Descope generate a fresh one for
//   that login id (which replaces the app's). This is how the suite runs against a real Descope
//   project and any deployed instance (BASE_URL); in CI it runs against the emulator's own
//   management API. Journeys that need a real inbox (a brand-new address signing up, a code to a
//   changed address) are skipped there, with the reason; those tagged @existing-user run.

import { test as base, expect, type Page } from "@playwright/test";

/**
 * Where the server that Playwright starts itself (`webServer` in playwright.config.ts, used when
 * BASE_URL is not set) listens: ports of its own, so that a run never meets a developer's
 * `.ci/serve` (3000, its emulator 4100) nor its data.
 */
export const OWN_SERVER = { siteAddr: "127.0.0.1:3300", emulatorAddr: "127.0.0.1:4300" };
/** Set: the journeys drive a server someone else runs (`.ci/serve`, a deployed instance). */
export const EXTERNAL_SERVER = !!process.env.BASE_URL;
export const APP_URL = process.env.BASE_URL ?? `http://${OWN_SERVER.siteAddr}`;
/** The embedded emulator: the own server's, or by default `.ci/serve`'s beside a BASE_URL. */
export const EMULATOR_URL =
  process.env.EMULATOR_URL ??
  (EXTERNAL_SERVER ? "http://127.0.0.1:4100" : `http://${OWN_SERVER.emulatorAddr}`);
export const PROJECT_ID =
  process.env.DESCOPE_PROJECT_ID ??
  process.env.EMULATOR_PROJECT_ID ??
  "P2EmuLatorLocalProject000001";

/**
 * The tag of journeys that need only people who already have an account: they also run on the
 * test-user route. Pass it as a test's details: `test("…", EXISTING_USER, async …)`.
 */
export const EXISTING_USER_TAG = "@existing-user";
export const EXISTING_USER = { tag: EXISTING_USER_TAG };

/** Set: codes come from Descope's test-user API (see the top of this file). */
export const MANAGEMENT_KEY = process.env.DESCOPE_MANAGEMENT_KEY;
export const CODE_SOURCE: "outbox" | "test-users" = MANAGEMENT_KEY ? "test-users" : "outbox";
/**
 * Where Descope's API is: `DESCOPE_BASE_URL`; else, for a real project (`DESCOPE_PROJECT_ID`),
 * Descope's; else the emulator.
 */
export const DESCOPE_URL = (
  process.env.DESCOPE_BASE_URL ??
  (process.env.DESCOPE_PROJECT_ID ? "https://api.descope.com" : EMULATOR_URL)
).replace(/\/$/, "");

export type Method = "email" | "sms" | "voice" | "whatsapp";

/** The radio labels of `LoginIdFields` (and of the phone-update form). */
export const METHOD_LABEL: Record<Method, string> = {
  email: "Email",
  sms: "Text message (SMS)",
  voice: "Voice call",
  whatsapp: "WhatsApp",
};

/** The label of the shared login-id field (`#login_id`). */
export const LOGIN_ID_LABEL = "Email address or phone number";

/** One message in the emulator's outbox (`src/emulator/outbox.rs`). */
export interface OutboxMessage {
  id: number;
  channel: string;
  destination: string;
  loginId: string;
  purpose: string;
  code: string;
  sentAt: number;
  templateOptions: unknown;
}

/** A JWT anywhere in a string (header `{"` base64url-encodes to `eyJ`). */
export const JWT_PATTERN = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

/**
 * Playwright's `test`, plus a check after every test that the page threw no uncaught error and
 * logged no console error (a panic in the wasm, a hydration mismatch, a CSP violation) nor
 * Leptos' warning of an island with no wasm to hydrate it. The browser's own "Failed to load
 * resource" lines are left out: a server function that answers an error logs one.
 */
export const test = base.extend<{ browserErrors: string[]; codeSource: void }>({
  // On the test-user route only the journeys of people who already have an account can run.
  codeSource: [
    async ({}, use, testInfo) => {
      testInfo.skip(
        CODE_SOURCE === "test-users" && !testInfo.tags.includes(EXISTING_USER_TAG),
        "needs a real inbox (a new address, or a code sent to a changed address): runs only on the emulator's outbox",
      );
      await use();
    },
    { auto: true },
  ],
  browserErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      // Every test also proves the Content-Security-Policy lets the page run: a violation is
      // logged as a console error, and fails the test like any other.
      await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (event) => {
          console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
        });
      });
      page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
      page.on("console", (message) => {
        if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
          errors.push(`console.error: ${message.text()}`);
        }
        if (message.type() === "warning" && message.text().includes("for the island")) {
          errors.push(`console.warn: ${message.text()}`);
        }
      });
      await use(errors);
      expect(errors, "errors in the browser").toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

// ---------------------------------------------------------------------------------------------
// Fresh addresses: every test uses its own, so the emulator's per-recipient rate cap (5 a minute)
// and existing accounts never get in the way. They are unique by construction, not by chance: a
// counter of this worker process, and the worker's index, which Playwright never reuses within a
// run (a worker restarted after a failure gets a new one). Phone numbers have room for nothing
// more, so they assume a fresh emulator database per run, as `.ci/test` gives it; emails also
// carry the time the worker started, so they stay unique across runs too.

const WORKER_INDEX = Number(process.env.TEST_WORKER_INDEX ?? 0);
const WORKER_STARTED = Date.now().toString(36);
let counter = 0;
function nextNumber(): number {
  counter += 1;
  return counter;
}

export function uniqueEmail(tag = "user"): string {
  return `e2e-${tag}-${WORKER_STARTED}-w${WORKER_INDEX}-${nextNumber()}@example.com`;
}

/** A valid E.164 (per libphonenumber) US number: +1 415, the worker as the exchange, then a line. */
export function uniquePhone(): string {
  const line = nextNumber();
  if (line > 9999 || WORKER_INDEX > 799) throw new Error("uniquePhone: out of numbers for this worker");
  return `+1415${200 + WORKER_INDEX}${String(line).padStart(4, "0")}`;
}

/** The address a method delivers to is the login id itself: an email or a phone number. */
export function freshLoginId(method: Method, tag?: string): string {
  return method === "email" ? uniqueEmail(tag) : uniquePhone();
}

// ---------------------------------------------------------------------------------------------
// The outbox.

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as T;
}

/** The newest outbox message id (to `destination`, if given); 0 when there is none. */
export async function latestId(destination?: string): Promise<number> {
  const query = destination ? `?destination=${encodeURIComponent(destination)}` : "";
  const { messages } = await getJson<{ messages: OutboxMessage[] }>(
    `${EMULATOR_URL}/emulator/outbox${query}`,
  );
  return messages.reduce((max, m) => Math.max(max, m.id), 0);
}

/** The newest message to `destination` with an id above `afterId`, waiting for it (long poll). */
export async function waitForCode(
  destination: string,
  afterId: number,
  timeoutMs = 10_000,
): Promise<OutboxMessage> {
  const url =
    `${EMULATOR_URL}/emulator/outbox/wait?destination=${encodeURIComponent(destination)}` +
    `&after=${afterId}&timeoutMs=${timeoutMs}`;
  const response = await fetch(url);
  if (response.status === 408) {
    throw new Error(
      `No code reached ${destination} (after outbox message #${afterId}) within ${timeoutMs} ms`,
    );
  }
  if (!response.ok) {
    throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as OutboxMessage;
}

/** Runs `action` (which should make the app send a code to `destination`) and returns the code's message. */
export async function codeSentBy(
  destination: string,
  action: () => Promise<unknown>,
): Promise<OutboxMessage> {
  const after = await latestId();
  await action();
  return waitForCode(destination, after);
}

// ---------------------------------------------------------------------------------------------
// Descope's test-user API (management key): the same calls on a real project and the emulator.

async function management<T>(method: "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${DESCOPE_URL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${PROJECT_ID}:${MANAGEMENT_KEY}`,
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as T;
}

/** Creates `person` as a Descope test user with a verified address for their channel. */
export async function createTestUser(person: Person): Promise<void> {
  const phone = person.method !== "email";
  await management("POST", "/v1/mgmt/user/create/test", {
    loginId: person.loginId,
    name: person.name,
    ...(phone
      ? { phone: person.loginId, verifiedPhone: true }
      : { email: person.loginId, verifiedEmail: true }),
  });
}

/** A fresh code for a test user (it replaces any code the app asked for). */
export async function testUserCode(loginId: string, method: Method): Promise<OutboxMessage> {
  const { code } = await management<{ code: string }>("POST", "/v1/mgmt/tests/generate/otp", {
    loginId,
    deliveryMethod: method,
    loginOptions: {},
  });
  return {
    id: 0,
    channel: method,
    destination: loginId,
    loginId,
    purpose: "test",
    code,
    sentAt: Math.floor(Date.now() / 1000),
    templateOptions: null,
  };
}

/** Deletes every test user of the project (global set-up and teardown). */
export async function deleteAllTestUsers(): Promise<void> {
  await management("DELETE", "/v1/mgmt/user/test/delete/all");
}

/** A code that is certainly wrong: the right one with its last digit changed. */
export function wrongCodeFor(code: string): string {
  const last = Number(code.at(-1));
  return code.slice(0, -1) + String((last + 1) % 10);
}

// ---------------------------------------------------------------------------------------------
// UI steps.

export interface OpenOptions {
  /** Wait for `<body data-hydrated="true">` (set by `hydrate()`). False for JavaScript-off tests. */
  hydrated?: boolean;
}

/** Opens a page of the app; with JavaScript on, waits until it is interactive. */
export async function open(page: Page, path: string, { hydrated = true }: OpenOptions = {}) {
  const response = await page.goto(path);
  if (hydrated) {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
  return response;
}

export interface CodeRequest extends OpenOptions {
  /** `/sign-up-or-in`, `/sign-up` or `/sign-in` (a query such as `?next=` may follow). */
  path?: string;
  method?: Method;
  loginId: string;
  /** Only on `/sign-up`. */
  name?: string;
  /** Skip opening the page: the form is already on screen. */
  alreadyOpen?: boolean;
  /** "Descope options": a JSON object for the session JWT. */
  customClaims?: string;
  /** "Descope options": `name=value` lines for the message template. */
  templateOptions?: string;
  /** "Descope options" on `/sign-in`: ask for a step-up of the current session. */
  stepUp?: boolean;
}

/** Fills one of the three entry forms, submits it, and returns the code the app had sent. */
export async function requestCode(page: Page, request: CodeRequest): Promise<OutboxMessage> {
  const { path = "/sign-up-or-in", method = "email", loginId, name, hydrated = true } = request;
  if (!request.alreadyOpen) await open(page, path, { hydrated });
  await page.getByRole("radio", { name: METHOD_LABEL[method], exact: true }).check();
  await page.getByLabel(LOGIN_ID_LABEL).fill(loginId);
  if (name !== undefined) await page.getByLabel(/^Name/).fill(name);
  const { customClaims, templateOptions, stepUp } = request;
  if (customClaims !== undefined || templateOptions !== undefined || stepUp) {
    await page.getByText("Descope options", { exact: true }).click();
    if (customClaims !== undefined) await page.getByLabel(/^Custom claims/).fill(customClaims);
    if (templateOptions !== undefined) await page.getByLabel(/^Template options/).fill(templateOptions);
    if (stepUp) await page.getByLabel(/^Step up/).check();
  }
  const submit = path.startsWith("/sign-up?") || path === "/sign-up" ? "Create account" : "Send me a code";
  const press = () => page.getByRole("button", { name: submit, exact: true }).click();
  let message: OutboxMessage;
  if (CODE_SOURCE === "test-users") {
    // Only once the app's own request is done: the generated code must be the newest.
    await press();
    await expect(page).toHaveURL(/\/verify$/);
    message = await testUserCode(loginId, method);
  } else {
    message = await codeSentBy(loginId, press);
    await expect(page).toHaveURL(/\/verify$/);
  }
  expect(message.channel).toBe(method);
  return message;
}

/** Types a code on `/verify` and presses "Verify". */
export async function enterCode(page: Page, code: string): Promise<void> {
  await page.getByLabel("Code", { exact: true }).fill(code);
  await page.getByRole("button", { name: "Verify", exact: true }).click();
}

/** Expects the profile of a signed-in person. */
export async function expectProfile(page: Page, name?: string): Promise<void> {
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    name ? `Hello, ${name}` : "Your profile",
  );
}

export interface Person {
  method: Method;
  loginId: string;
  name?: string;
}

/** Creates an account through `/sign-up` and verifies its code: the person ends on their profile. */
export async function signUp(page: Page, person: Person, options: OpenOptions = {}): Promise<void> {
  const { code } = await requestCode(page, { ...person, path: "/sign-up", ...options });
  await enterCode(page, code);
  await expectProfile(page, person.name);
}

/**
 * A person who already has an account, signed in and on their profile: created through
 * `/sign-up` on the outbox route, or as a Descope test user and signed in through `/sign-in` on
 * the test-user route. For journeys tagged EXISTING_USER.
 */
export async function signUpOrCreate(page: Page, person: Person): Promise<void> {
  if (CODE_SOURCE === "test-users") {
    await createTestUser(person);
    await signIn(page, person);
  } else {
    await signUp(page, person);
  }
}

/**
 * On the test-user route, creates `person` as a test user (a brand-new address has no inbox
 * there); on the outbox route does nothing, and sign-up-or-in creates the account.
 */
export async function prepareAccount(person: Person): Promise<void> {
  if (CODE_SOURCE === "test-users") await createTestUser(person);
}

/** What the outbox calls a code of this kind; a generated test-user code is "test". */
export function purposeOf(purpose: string): string {
  return CODE_SOURCE === "test-users" ? "test" : purpose;
}

/** Signs an existing person in through `/sign-in`. */
export async function signIn(page: Page, person: Person, options: OpenOptions = {}): Promise<void> {
  const { code } = await requestCode(page, {
    method: person.method,
    loginId: person.loginId,
    path: "/sign-in",
    ...options,
  });
  await enterCode(page, code);
  await expectProfile(page, person.name);
}

/** Presses "Sign out" on the profile; the app sends the person to the start page. */
export async function signOut(page: Page): Promise<void> {
  await page.getByRole("main").getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
}

/** A new person with a unique address and a recognisable name. */
export function newPerson(method: Method = "email", name = "Ada Lovelace"): Person {
  return { method, loginId: freshLoginId(method), name };
}
