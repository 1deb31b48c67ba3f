// On the test-user route (DESCOPE_MANAGEMENT_KEY set), the test users the run created are
// deleted again, so a real Descope project keeps none of them.
import { CODE_SOURCE, deleteAllTestUsers } from "./tests/support";

export default async function globalTeardown(): Promise<void> {
  if (CODE_SOURCE === "test-users") await deleteAllTestUsers();
}
