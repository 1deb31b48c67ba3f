// .ci/test (or `cargo leptos end-to-end`) starts the server just before the tests; wait until both the
// app and its embedded Descope emulator answer before any test runs.
import { APP_URL, EMULATOR_URL, PROJECT_ID } from "./tests/support";

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
  await waitFor(`${EMULATOR_URL}/v2/keys/${PROJECT_ID}`, deadline);
}
