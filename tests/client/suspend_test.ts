/** When Ctrl-Z may suspend the client. */
import assert from "node:assert/strict";
import { suspendRefusal } from "../../client/suspend.ts";

Deno.test("suspend: allowed from a shell; refused under a task runner and on Windows", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(suspendRefusal({ os: "linux", env: env({}) }), undefined);
  assert.equal(suspendRefusal({ os: "darwin", env: env({ HOME: "/h" }) }), undefined);
  assert.match(
    suspendRefusal({ os: "linux", env: env({ INIT_CWD: "/src" }) }) ?? "",
    /^Ctrl-Z: not suspended: the client was started by a task runner/,
  );
  assert.match(suspendRefusal({ os: "windows", env: env({}) }) ?? "", /Windows/);
});
