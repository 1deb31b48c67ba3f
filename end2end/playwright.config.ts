import { defineConfig, devices } from "@playwright/test";
import * as path from "node:path";
import { APP_URL, EXTERNAL_SERVER, OWN_SERVER } from "./tests/support";

// The app under test: BASE_URL when someone else runs it (`.ci/serve`, a deployed instance);
// otherwise a server Playwright starts for the run and stops after it (`webServer` below).

const ROOT = path.resolve(__dirname, "..");
/** Which build the journeys meet: `E2E_BUILD=release` for the release build, else debug. */
const PROFILE = process.env.E2E_BUILD === "release" ? "release" : "debug";
const TARGET_DIR = path.resolve(ROOT, process.env.CARGO_TARGET_DIR ?? "target");
const SERVER_BIN = path.join(TARGET_DIR, PROFILE, "descope-otp");
/** The run's databases and the server's log, made afresh by every run. */
const STATE_DIR = path.join(TARGET_DIR, `e2e-state-${PROFILE}`);
const BUILD_COMMAND = PROFILE === "release" ? ".ci/build-site --release" : ".ci/build-site";

/**
 * The server's environment: its own addresses and fresh databases; as every journey comes from
 * 127.0.0.1, the per-client rate limits raised for the run (the limits themselves are tested in
 * the repository's tests/app/security.rs); a short resend cooldown, so the resend journey waits
 * seconds, not half a minute; on the release build, Leptos in production mode, as `.ci/serve
 * --release` runs it. Then E2E_EXTRA, NAME=value words separated by spaces, for the runs that
 * need more: `EMULATOR_ALLOW_FAULTS=true` for @faults, `EMULATOR_TEST_USERS_UNCAPPED=true` for
 * the test-user route. Everything else is at its default.
 */
function serverEnv(): Record<string, string> {
  const env: Record<string, string> = {
    LEPTOS_SITE_ADDR: OWN_SERVER.siteAddr,
    EMULATOR_ADDR: OWN_SERVER.emulatorAddr,
    DATABASE_URL: `sqlite://${path.join(STATE_DIR, "app.db")}`,
    EMULATOR_DB: path.join(STATE_DIR, "emulator.db"),
    RATE_LIMIT_SEND_PER_IP: "10000/1m",
    RATE_LIMIT_VERIFY_PER_IP: "10000/1m",
    RESEND_COOLDOWN_SECS: "8",
    NO_COLOR: "1", // its log is a file, to be read as text
  };
  if (PROFILE === "release") env.LEPTOS_ENV = "PROD";
  for (const word of (process.env.E2E_EXTRA ?? "").split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf("=");
    if (eq <= 0) throw new Error(`E2E_EXTRA: ${JSON.stringify(word)} is not NAME=value`);
    env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return env;
}

/** A word for `sh`, quoted. */
const sh = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

// Fails before anything starts when the build is missing (nothing is built here): the server
// binary, or the site's wasm. Then makes the state directory afresh, so a run never sees an
// earlier run's data, and becomes the server (`exec`: the signal that stops it reaches the server
// itself), its output in server.log.
const SITE_PKG = path.join(ROOT, "target/site/pkg");
const LOG = path.join(STATE_DIR, "server.log");
const missing = (what: string) =>
  `{ echo "e2e: ${what} is missing: build it first with ${BUILD_COMMAND}" >&2; exit 1; }`;
const serverCommand = [
  `[ -x ${sh(SERVER_BIN)} ] || ${missing(SERVER_BIN)};`,
  `set -- ${sh(SITE_PKG)}/*.wasm; [ -e "$1" ] || ${missing(`the site (${SITE_PKG}/*.wasm)`)};`,
  `rm -rf ${sh(STATE_DIR)} && mkdir -p ${sh(STATE_DIR)} &&`,
  `echo "e2e: the ${PROFILE} server at ${APP_URL}, its log in ${LOG}" &&`,
  `exec ${sh(SERVER_BIN)} >${sh(LOG)} 2>&1`,
].join(" ");

export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.ts",
  globalTeardown: "./global-teardown.ts",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  // The list reporter prints, under each failure, the paths of its trace and screenshot.
  reporter: "list",
  // A failed journey keeps its trace (`npx playwright show-trace <path>`) and a screenshot of
  // the page as it failed, under test-results/ (git-ignored; each run empties it first).
  outputDir: "./test-results",
  use: { baseURL: APP_URL, trace: "retain-on-failure", screenshot: "only-on-failure" },
  webServer: EXTERNAL_SERVER
    ? undefined
    : {
        command: serverCommand,
        cwd: ROOT, // the server serves target/site relative to where it runs
        env: serverEnv(),
        url: `${APP_URL}/healthz`,
        reuseExistingServer: false,
        timeout: 60_000,
        stdout: "pipe",
        stderr: "pipe",
        // SIGTERM: the server finishes the requests in flight and closes its databases.
        gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
      },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        // Debian's Chromium: Playwright's own browser download is not reachable here.
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
});
