/**
 * End to end: one identity connected twice (an interactive client and a script beside it, two
 * real `chat client` processes with the same home). Both stay connected and both receive room
 * lines and private messages; the others see the name once: a join for the first session, no
 * leave until the last one goes.
 */

import assert from "node:assert/strict";
import { createIdentity, saveIdentity } from "../../shared/keys.ts";
import { type ClientProcess, events, startClient, startServer, until } from "../support/procs.ts";

async function home(root: string, name: string): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await saveIdentity(`${dir}/identity`, await createIdentity());
  return dir;
}

type Ev = Record<string, unknown>;

const has = (p: ClientProcess, pred: (e: Ev) => boolean) => events(p).some(pred);
const presence = (p: ClientProcess, name: string) =>
  events(p).filter((e) => e.t === "event" && e.name === name && e.room === "#lobby")
    .map((e) => e.kind);

Deno.test("sessions: one identity twice: both stay and receive, presence shows the name once", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-sessions-" });
  const srv = await startServer({ dataDir: `${root}/data` });
  const clients: ClientProcess[] = [];
  try {
    const [aliceHome, bobHome] = await Promise.all([home(root, "alice"), home(root, "bob")]);
    const flags = (name: string) => ["--name", name, "--json", "--accept-new", "--no-reconnect"];
    const bob = startClient(srv.port, flags("bob"), bobHome);
    clients.push(bob);
    await until(() => has(bob, (e) => e.t === "welcome"), "bob's welcome", clients, 20_000);
    const laptop = startClient(srv.port, flags("alice"), aliceHome);
    clients.push(laptop);
    await until(() => has(laptop, (e) => e.t === "welcome"), "laptop welcome", clients, 20_000);
    await until(() => presence(bob, "alice").length === 1, "alice's join", clients);
    const script = startClient(srv.port, flags("alice"), aliceHome);
    clients.push(script);
    await until(() => has(script, (e) => e.t === "welcome"), "script welcome", clients, 20_000);

    // Both sessions receive a room line and a private message.
    await bob.send("hello both");
    await bob.send("/msg alice for your eyes");
    for (const [p, what] of [[laptop, "laptop"], [script, "script"]] as const) {
      await until(
        () => has(p, (e) => e.t === "msg" && e.text === "hello both"),
        `${what} room line`,
        clients,
      );
      await until(
        () => has(p, (e) => e.t === "dm" && e.text === "for your eyes" && e.from === "bob"),
        `${what} dm`,
        clients,
        20_000,
      );
    }
    // The first session was not ended by the second.
    assert.ok(
      !has(laptop, (e) => e.t === "status" && e.state === "closed"),
      laptop.lines.join("\n"),
    );
    assert.deepEqual(presence(bob, "alice"), ["join"], "one join for two sessions");
    await bob.send("/who #lobby");
    await until(
      () => has(bob, (e) => e.t === "reply" && e.text === "2 users in #lobby: bob, alice"),
      "/who lists alice once",
      clients,
    );

    // The script leaves: nobody sees a leave, the laptop still receives.
    await script.end();
    assert.equal((await script.status).code, 0, script.errors.join("\n"));
    await bob.send("still there?");
    await until(
      () => has(laptop, (e) => e.t === "msg" && e.text === "still there?"),
      "laptop still receives",
      clients,
    );
    assert.deepEqual(presence(bob, "alice"), ["join"], "no leave while a session remains");
    // The last session leaves: now bob sees the leave.
    await laptop.end();
    await until(() => presence(bob, "alice").length === 2, "alice's leave", clients);
    assert.deepEqual(presence(bob, "alice"), ["join", "leave"]);
  } finally {
    for (const c of clients) await c.kill();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});
