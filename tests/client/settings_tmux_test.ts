/**
 * Settings with real processes in a real terminal: the name picked at the first start is saved
 * and used at the next start without a prompt; the rooms joined are rejoined (`--room ops`
 * without `#` works too) and a room left is no longer rejoined; `/set rooms` says it counts from
 * the next start and holds through a later `/join`, which adds to it. A plain-mode client in the rooms
 * watches the joins and sends a message of several lines, shown with a hanging indent. Skips
 * with a message without tmux.
 */
import assert from "node:assert/strict";
import {
  type ClientProcess,
  events,
  makeIdentity,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";
import { chatLine, hasTmux, Pane } from "../support/tmux.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("settings_tmux_test: tmux is not installed; terminal tests skipped");

/** `name` joined `room`, as the plain client `c` saw it. */
function joined(c: ClientProcess, name: string, room: string): number {
  return events(c).filter((e) =>
    e.t === "event" && e.kind === "join" && e.name === name && e.room === room
  ).length;
}

async function saved(home: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(`${home}/config.json`));
}

function savedNow(home: string): Record<string, unknown> {
  try {
    return JSON.parse(Deno.readTextFileSync(`${home}/config.json`));
  } catch {
    return {};
  }
}

Deno.test({
  name: "settings tmux: the name is asked once and remembered; rooms are rejoined",
  ignore: !TMUX,
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-settings-tmux-" });
    const home = `${dir}/alice`;
    await Promise.all([makeIdentity(home), makeIdentity(`${dir}/watch`)]);
    const server = await startServer({ dataDir: `${dir}/srv` });
    const hp = `127.0.0.1:${server.port}`;
    const pane = new Pane();
    const watch = startClient(
      server.port,
      ["--name", "watch", "--accept-new", "--json", "--json-input", "--room", "dev"],
      `${dir}/watch`,
    );
    const run = (...more: string[]) =>
      chatLine("client", hp, "--accept-new", "--home", home, ...more);
    try {
      await until(
        () => events(watch).some((e) => e.t === "welcome"),
        "watch welcome",
        [watch],
        20_000,
      );
      await watch.send(JSON.stringify("/join #lobby"));
      await pane.open(
        `${run()}; echo EXIT=$?; ${run("--room", "ops")}; echo EXIT=$?; sleep 60`,
        120,
        30,
      );
      // First start: no name saved, so the client asks.
      await pane.until((s) => s.includes("Your name:"), "name prompt");
      await pane.keys("alice", "Enter");
      await until(() => joined(watch, "alice", "#lobby") === 1, "alice in #lobby", [watch], 20_000);
      // Said in the window shown (#lobby's) once saved.
      await pane.until((s) => s.includes("remembered"), "the name is remembered");
      await pane.keys("/join dev", "Enter");
      await until(() => joined(watch, "alice", "#dev") === 1, "alice in #dev", [watch], 20_000);
      // Saved in the background once the client has the answer to /join.
      const want = JSON.stringify({ [hp]: { name: "alice", rooms: ["#lobby", "#dev"] } });
      await until(
        () => JSON.stringify(savedNow(home).servers) === want,
        `rooms saved: ${want}`,
        [watch],
      );
      if (Deno.build.os !== "windows") {
        assert.equal((await Deno.stat(`${home}/config.json`)).mode! & 0o777, 0o600);
      }
      // A message of several lines: the lines after the first hang under the text column.
      await watch.send(JSON.stringify("/join #dev")); // the room alice looks at
      await watch.send(JSON.stringify("line one\n\x1b[2Jline two"));
      // It is shown in its room's window: switch to the window the status line marks.
      const hot = await pane.until(
        (s) => s.includes("␛[2Jline two") || /\b\d:#\w+\(1\)/.test(s),
        "the message in the window or the hotlist",
      );
      const n = /\b(\d):#\w+\(1\)/.exec(hot);
      if (!hot.includes("␛[2Jline two") && n !== null) await pane.keys(`M-${n[1]}`);

      const shown = await pane.until((s) => s.includes("␛[2Jline two"), "the multi-line message");
      const rows = shown.split("\n");
      const at = rows.findIndex((r) => r.includes("watch: line one"));
      assert.ok(at >= 0 && rows[at + 1] !== undefined, shown);
      assert.equal(rows[at + 1].trimStart(), "␛[2Jline two", shown);
      assert.equal(rows[at + 1].indexOf("␛"), rows[at].indexOf("line one"), shown);
      await pane.keys("/quit", "Enter");
      await pane.until((s) => s.includes("EXIT=0"), "first exit");

      // Second start, with --room ops (no #): no prompt; #lobby and #dev are rejoined, #ops too.
      await until(
        () => joined(watch, "alice", "#lobby") === 2 && joined(watch, "alice", "#dev") === 2,
        "alice back in #lobby and #dev",
        [watch],
        30_000,
      );
      const text = await pane.text();
      assert.equal(text.split("Your name:").length, 2, `asked once only:\n${text}`);
      await pane.keys("/leave #dev", "Enter");
      await until(
        () =>
          events(watch).some((e) =>
            e.t === "event" && e.kind === "leave" && e.name === "alice" && e.room === "#dev" &&
            e.reason === "left"
          ),
        "alice left #dev",
        [watch],
      );
      const left = JSON.stringify({ [hp]: { name: "alice", rooms: ["#lobby", "#ops"] } });
      await until(() => JSON.stringify(savedNow(home).servers) === left, "#dev no longer saved", [
        watch,
      ]);
      // /set rooms says when it counts, and holds through a later /join, which adds to it.
      await pane.keys("/set rooms ops #qa", "Enter");
      await pane.until(
        (s) => s.includes("rooms set to #ops #qa (joined at the next start)"),
        "the /set rooms answer",
      );
      await pane.keys("/join #misc", "Enter");
      const rooms = JSON.stringify({ [hp]: { name: "alice", rooms: ["#ops", "#qa", "#misc"] } });
      await until(() => JSON.stringify(savedNow(home).servers) === rooms, "#misc added", [watch]);
      await pane.keys("/quit", "Enter");
      await pane.until((s) => s.split("EXIT=0").length === 3, "second exit");
      const second = await saved(home);
      assert.deepEqual(
        second.servers,
        { [hp]: { name: "alice", rooms: ["#ops", "#qa", "#misc"] } },
        await pane.text(),
      );
    } finally {
      await pane.tmux("kill-server").catch(() => "");
      await watch.kill();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
