// Before any test runs, wait until both the app and its Descope (the embedded emulator, or a real
// project's API) answer: the server Playwright starts (webServer) is waited for on its /healthz
// only, and one run by someone else (BASE_URL) may still be starting. On the test-user route,
// test users left over by an earlier run that stopped early go first, so that the run's fresh
// addresses are free.
import { APP_URL, CODE_SOURCE, DESCOPE_URL, PROJECT_ID, deleteAllTestUsers } from "./tests/support";

async function waitFor(url: string, deadline: number): Promise<void> {
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer within 60 s (last: ${last})`);
}

export default async function globalSetup(): Promise<void> {
  const deadline = Date.now() + 60_000;
  await waitFor(APP_URL, deadline);
  await waitFor(`${DESCOPE_URL}/v2/keys/${PROJECT_ID}`, deadline);
  if (CODE_SOURCE === "test-users") {
    await deleteAllTestUsers();
    console.log(`codes from Descope's test-user API at ${DESCOPE_URL}: only @existing-user journeys run`);
  }
}
