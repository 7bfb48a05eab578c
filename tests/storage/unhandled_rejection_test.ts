/**
 * The server's guard against unhandled promise rejections, in a real Deno process: with it, a
 * rejection nobody handles is reported and the process goes on; without it, the same program
 * dies (Deno's default), which is what the guard prevents for `chat server`.
 */
import assert from "node:assert/strict";

const GUARD = new URL("../../server/guard.ts", import.meta.url).href;

async function runScript(guarded: boolean) {
  const script = `
    ${
    guarded
      ? `import { keepAliveOnUnhandledRejection } from ${JSON.stringify(GUARD)};
    keepAliveOnUnhandledRejection((r) => console.log("reported: " + r.message));`
      : ""
  }
    Promise.reject(new Error("store failed"));
    (async () => { throw new Error("late failure"); })();
    setTimeout(() => console.log("still running"), 100);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("guard: an unhandled rejection is reported and the process keeps running", async () => {
  const r = await runScript(true);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "reported: store failed\nreported: late failure\nstill running\n");
});

Deno.test("guard: without it the same rejection ends the process", async () => {
  const r = await runScript(false);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout.includes("still running"), false);
});
