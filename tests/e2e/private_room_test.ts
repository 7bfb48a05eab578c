/**
 * End to end: a real server process and real clients in --json mode in a private room
 * (docs/protocol.md §8). Three members read each other's lines; the server's database and
 * `--log` never hold a canary said in the room; a member who reconnects reads what was said
 * while away; a member's second session reads too; a kicked member's keys do not open the lines
 * said after the kick; plain rooms are unchanged.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createIdentity, type Identity, saveIdentity } from "../../shared/keys.ts";
import { KnownServers } from "../../client/known_servers.ts";
import { ChatClient } from "../../client/client.ts";
import { PrivateRooms } from "../../client/private_rooms.ts";
import type { ClientEvent } from "../../client/view.ts";
import type { MsgMessage } from "../../shared/messages.ts";
import { type ClientProcess, events, startClient, startServer, waitFor } from "../support/procs.ts";

/** A client home with a fresh saved identity (so the process does not generate RSA keys). */
async function home(root: string, name: string, id?: Identity): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await saveIdentity(`${dir}/identity`, id ?? await createIdentity());
  return dir;
}

const flags = (root: string, name: string, extra: string[] = []) => [
  "--name",
  name,
  "--json",
  "--accept-new",
  "--log",
  `${root}/${name}-${crypto.randomUUID()}.jsonl`,
  ...extra,
];

function said(p: ClientProcess, text: string): Record<string, unknown> | undefined {
  return events(p).find((e) => e.t === "msg" && e.text === text);
}

async function sees(p: ClientProcess, text: string, who: string): Promise<void> {
  await waitFor(
    () => said(p, text) !== undefined,
    30_000,
    `${who} reads "${text}" (${who}: ${p.lines.slice(-15).join("\n")})`,
  );
  assert.equal(said(p, text)!.e2e, true);
}

async function joined(p: ClientProcess, room: string, who: string): Promise<void> {
  await waitFor(
    () =>
      events(p).some((e) =>
        e.t === "reply" && typeof e.text === "string" && e.text.includes(`joined ${room}`)
      ),
    30_000,
    `${who} joins ${room} (${p.lines.slice(-10).join("\n")})`,
  );
}

Deno.test("e2e private room: three members, no plaintext on the server, resume, two sessions, kick", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-private-" });
  const serverLog = `${root}/server.jsonl`;
  const srv = await startServer({ dataDir: `${root}/data`, args: ["--log", serverLog] });
  const procs: ClientProcess[] = [];
  let carolClient: ChatClient | undefined;
  try {
    const carolId = await createIdentity();
    const [aliceHome, bobHome, bob2Home] = await Promise.all([
      home(root, "alice"),
      home(root, "bob"),
      home(root, "bob2"),
    ]);
    const start = (h: string, name: string) => {
      const p = startClient(srv.port, flags(root, name), h);
      procs.push(p);
      return p;
    };
    const alice = start(aliceHome, "alice");
    await waitFor(() => events(alice).some((e) => e.t === "welcome"), 30_000, "alice's welcome");
    await alice.send("/join #team --private");
    await joined(alice, "#team", "alice");
    const reply = events(alice).find((e) => e.t === "reply" && String(e.text).includes("#team"))!;
    assert.match(String(reply.text), /private: end-to-end encrypted/);
    assert.equal((reply.data as Record<string, unknown>).private, true);

    const bob = start(bobHome, "bob");
    await waitFor(() => events(bob).some((e) => e.t === "welcome"), 30_000, "bob's welcome");
    await bob.send("/join #team");
    await joined(bob, "#team", "bob");

    // carol: the real client library in this process, so the test can keep her keys after the
    // kick and try them on what is said later (a modified client that keeps listening).
    const carolSeen: MsgMessage[] = [];
    const carolKeys = new PrivateRooms({
      transport: {
        get name() {
          return "carol";
        },
        command: (n, a, auto) => carolClient!.command(n, a, auto),
      },
      identity: carolId,
      knownUsers: { lookup: () => undefined },
      hostPort: `127.0.0.1:${srv.port}`,
    });
    carolKeys.noteRooms([{ name: "#team", topic: "", members: 0, private: true }]);
    carolClient = new ChatClient({
      host: "127.0.0.1",
      port: srv.port,
      identity: carolId,
      knownServers: await KnownServers.load(`${root}/carol-known_servers`),
      trustNewServer: () => Promise.resolve(true),
      chooseName: () => Promise.resolve("carol"),
      onEvent: (ev: ClientEvent) => {
        if (ev.t !== "server" || ev.msg.t !== "msg") return;
        if (ev.msg.e2e === true) carolSeen.push(ev.msg);
      },
      reconnect: false,
      rooms: ["#team"],
    });
    const raw: MsgMessage[] = [];
    await carolClient.start();

    const canary = `canary-${crypto.randomUUID()}`;
    await alice.send(`first words ${canary}`);
    await sees(bob, `first words ${canary}`, "bob");
    await waitFor(
      () => carolSeen.some((m) => m.text === `first words ${canary}`),
      30_000,
      "carol reads alice",
    );
    await bob.send("bob here");
    await sees(alice, "bob here", "alice");
    carolClient.say("#team", "carol here");
    await sees(alice, "carol here", "alice");
    await sees(bob, "carol here", "bob");

    // bob on a second machine: the same identity, another session, reads too.
    const bobId = await Deno.readFile(`${bobHome}/identity`);
    await Deno.writeFile(`${bob2Home}/identity`, bobId, { mode: 0o600 });
    const bob2 = start(bob2Home, "bob");
    await waitFor(() => events(bob2).some((e) => e.t === "welcome"), 30_000, "bob2's welcome");
    await bob2.send("/join #team");
    await joined(bob2, "#team", "bob2");
    await alice.send("to both of bob's sessions");
    await sees(bob, "to both of bob's sessions", "bob");
    await sees(bob2, "to both of bob's sessions", "bob2");

    // bob's first session goes away (connection lost: still a member); alice talks; bob
    // comes back with the same home and reads it from the history.
    await bob.kill();
    await bob2.end();
    await waitFor(
      () => events(alice).some((e) => e.t === "event" && e.kind === "leave" && e.name === "bob"),
      30_000,
      "bob gone",
    );
    await alice.send("said while bob was away");
    const bob3 = start(bobHome, "bob");
    await waitFor(() => events(bob3).some((e) => e.t === "welcome"), 30_000, "bob3's welcome");
    await bob3.send("/join #team");
    await sees(bob3, "said while bob was away", "bob back");
    // History asked for again shows the lines already opened (their keys are gone by design).
    await bob3.send("/history #team 5");
    await waitFor(
      () =>
        events(bob3).filter((e) => e.t === "msg" && e.text === "said while bob was away").length ===
          2,
      30_000,
      `bob's history (${bob3.lines.slice(-8).join("\n")})`,
    );
    assert.ok(!events(bob3).some((e) => e.refused === "room_replayed"), bob3.lines.join("\n"));

    // What a modified client of carol's would see if it got every sealed row anyway (a copy of
    // the database): she takes the keys addressed to her while she is a member ...
    const rowsOf = (after: number): MsgMessage[] => {
      const db = new DatabaseSync(`${srv.dataDir}/chat.db`, { readOnly: true });
      try {
        const rows = db.prepare(
          "SELECT room, seq, ts, sender, text, id, kind, to_fp FROM messages " +
            "WHERE room = '#team' AND seq > ? AND (kind = 1 OR to_fp = ?) ORDER BY seq",
        ).all(after, carolId.fingerprint) as Record<string, unknown>[];
        return rows.map((r) => {
          const m = {
            t: "msg",
            room: r.room,
            seq: r.seq,
            ts: r.ts,
            from: r.sender,
            text: "",
            id: r.id,
          } as MsgMessage;
          if (r.kind === 1) m.sealed = r.text as string;
          else m.key = r.text as string;
          return m;
        });
      } finally {
        db.close();
      }
    };
    let last = 0;
    const all = rowsOf(0);
    const lines = all.filter((m) => m.sealed !== undefined && m.from === "alice");
    const [l1, l2] = lines.slice(-2); // held back to be delivered out of order
    for (const m of all) {
      last = m.seq;
      if (m === l1 || m === l2) continue;
      const out = await carolKeys.receive(m);
      if (out !== null) raw.push(out);
    }
    assert.ok(
      raw.some((m) => m.text === `first words ${canary}`),
      `the harness opens the lines carol may read: ${JSON.stringify(raw)}`,
    );
    assert.ok(raw.every((m) => m.e2e === true), JSON.stringify(raw));
    // A server that alters, replays or reorders a line gets it refused, with the check named.
    const first = lines[0];
    const flipped = atob(first.sealed!).split("").map((c) => c.charCodeAt(0));
    flipped[flipped.length - 70] ^= 1; // in the ciphertext
    const tampered = { ...first, sealed: btoa(String.fromCharCode(...flipped)) };
    assert.equal((await carolKeys.receive(tampered))!.refused, "room_bad_signature");
    assert.equal((await carolKeys.receive(first))!.refused, "room_replayed");
    assert.ok((await carolKeys.receive(l2))!.e2e);
    const reordered = (await carolKeys.receive(l1))!;
    assert.equal(reordered.refused, "room_out_of_order");
    assert.equal(reordered.undecryptable, "cannot decrypt message from alice");
    assert.equal(reordered.text, "");
    assert.equal(
      (await carolKeys.receive({ ...lines[1], room: "#other" }))!.refused,
      "room_mismatch",
    );

    // ... then she is kicked; the keys she holds must not open what is said afterwards.
    const before = carolSeen.length;
    await alice.send("/kick #team carol");
    await waitFor(
      () => events(alice).some((e) => e.t === "event" && e.kind === "kick" && e.name === "carol"),
      30_000,
      "carol kicked",
    );
    await alice.send(`after the kick ${canary}`);
    await sees(bob3, `after the kick ${canary}`, "bob");
    await bob3.send("bob after the kick");
    await sees(alice, "bob after the kick", "alice");
    assert.equal(carolSeen.length, before, "the server relays nothing to a kicked member");
    const after = rowsOf(last);
    assert.deepEqual(
      after.map((m) => m.key === undefined),
      after.map(() => true),
      "no key for carol",
    );
    assert.equal(after.length, 2);
    for (const m of after) {
      const out = (await carolKeys.receive(m))!;
      assert.equal(out.text, "", "carol must not read a line said after her kick");
      assert.equal(out.undecryptable, `cannot decrypt message from ${m.from}`);
    }

    // dave joins late: the history he is shown says "sent before you joined", what is said
    // after his join he reads.
    const dave = start(await home(root, "dave"), "dave");
    await waitFor(() => events(dave).some((e) => e.t === "welcome"), 30_000, "dave's welcome");
    await dave.send("/join #team");
    await joined(dave, "#team", "dave");
    await alice.send("welcome dave");
    await sees(dave, "welcome dave", "dave");
    const old = events(dave).filter((e) =>
      e.t === "msg" && e.room === "#team" && e.replay === true
    );
    assert.ok(old.length > 0);
    for (const m of old) {
      assert.equal(m.text, "", JSON.stringify(m));
      assert.equal(m.undecryptable, "sent before you joined", JSON.stringify(m));
    }
    assert.ok(!dave.lines.some((l) => l.includes("cannot decrypt")), dave.lines.join("\n"));

    // The server never had the canary in clear: not in the database, not in its log.
    await alice.send("/join #plain");
    await alice.send(`plain ${canary.slice(0, 8)}`);
    await waitFor(
      () => said(alice, `plain ${canary.slice(0, 8)}`) !== undefined,
      30_000,
      "plain room line",
    );
    assert.equal(said(alice, `plain ${canary.slice(0, 8)}`)!.e2e, undefined);
    for (const p of procs) await p.end();
    await carolClient.close();
    carolClient = undefined;
    await srv.stop();
    const dbBytes = await Deno.readFile(`${srv.dataDir}/chat.db`);
    const dbText = new TextDecoder("latin1").decode(dbBytes);
    const logText = await Deno.readTextFile(serverLog);
    assert.ok(!dbText.includes(canary), "the database holds the canary");
    assert.ok(!logText.includes(canary), "the server log holds the canary");
    assert.ok(logText.includes(`plain ${canary.slice(0, 8)}`), "plain rooms are logged as before");
    assert.ok(logText.includes('"kind":"sealed"'), logText.slice(0, 500));
  } finally {
    await carolClient?.close();
    for (const p of procs) await p.kill().catch(() => {});
    await srv.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
