/**
 * The server's guard against unhandled promise rejections and uncaught exceptions (from timers
 * and microtasks), in a real Deno process: with it, each is reported and the process goes on;
 * without it, the same program dies (Deno's default), which the guard prevents for `chat server`.
 */
import assert from "node:assert/strict";

const GUARD = new URL("../../server/guard.ts", import.meta.url).href;

async function runScript(guarded: boolean) {
  const script = `
    ${
    guarded
      ? `import { keepServerAlive } from ${JSON.stringify(GUARD)};
    keepServerAlive((r) => console.log("reported: " + r.message));`
      : ""
  }
    Promise.reject(new Error("store failed"));
    (async () => { throw new Error("late failure"); })();
    setTimeout(() => { throw new Error("timer failed"); }, 20);
    setTimeout(() => queueMicrotask(() => { throw new Error("microtask failed"); }), 40);
    setTimeout(() => console.log("still running"), 100);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("guard: unhandled rejections and uncaught exceptions are reported, the process lives", async () => {
  const r = await runScript(true);
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    "reported: store failed\nreported: late failure\nreported: timer failed\n" +
      "reported: microtask failed\nstill running\n",
  );
});

Deno.test("guard: without it the same rejection ends the process", async () => {
  const r = await runScript(false);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout.includes("still running"), false);
});
