/**
 * End to end, a server that lies (docs/protocol.md §8 "Recipient's checks"): the database of a
 * real server is altered while it is stopped — one sealed line tampered with, two swapped (with
 * their ids), one replayed under a new seq — and a real member's client, restarted, is shown the
 * history. It opens the honest lines and refuses each altered one with the exact check, shown as
 * "cannot decrypt message from alice", never as text.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createIdentity, saveIdentity } from "../../shared/keys.ts";
import { fromBase64, toBase64 } from "../../shared/encoding.ts";
import { type ClientProcess, events, startClient, startServer, waitFor } from "../support/procs.ts";

async function home(root: string, name: string): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await saveIdentity(`${dir}/identity`, await createIdentity());
  return dir;
}

const flags = (name: string) => ["--name", name, "--json", "--accept-new"];

function texts(p: ClientProcess): Record<string, unknown>[] {
  return events(p).filter((e) => e.t === "msg" && e.room === "#team");
}

Deno.test("e2e private room: tampered, swapped and replayed lines in the history are refused by check", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-tamper-" });
  const dataDir = `${root}/data`;
  let srv = await startServer({ dataDir });
  const procs: ClientProcess[] = [];
  try {
    const [aliceHome, bobHome] = await Promise.all([home(root, "alice"), home(root, "bob")]);
    const alice = startClient(srv.port, flags("alice"), aliceHome);
    procs.push(alice);
    await waitFor(() => events(alice).some((e) => e.t === "welcome"), 30_000, "alice's welcome");
    await alice.send("/join #team --private");
    const bob = startClient(srv.port, flags("bob"), bobHome);
    procs.push(bob);
    await waitFor(() => events(bob).some((e) => e.t === "welcome"), 30_000, "bob's welcome");
    await bob.send("/join #team");
    await waitFor(
      () =>
        events(alice).some((e) =>
          e.t === "event" && e.kind === "join" && e.name === "bob" && e.room === "#team"
        ),
      30_000,
      "bob joins",
    );
    for (const t of ["one", "two", "three", "four"]) await alice.send(t);
    await waitFor(
      () => texts(bob).some((e) => e.text === "four"),
      30_000,
      `bob reads alice (${bob.lines.slice(-6).join("\n")})`,
    );
    await alice.end();
    await bob.end();
    await Promise.all([alice.status, bob.status]);
    await srv.stop();

    // The lying server: its database altered behind the clients' backs.
    const db = new DatabaseSync(`${dataDir}/chat.db`);
    const rows = db.prepare(
      "SELECT seq, text, id FROM messages WHERE room = '#team' AND kind = 1 ORDER BY seq",
    ).all() as { seq: number; text: string; id: string }[];
    assert.equal(rows.length, 4);
    const [l1, l2, l3, l4] = rows;
    const bytes = fromBase64(l2.text);
    bytes[bytes.length - 70] ^= 1; // in the ciphertext
    db.prepare("UPDATE messages SET text = ? WHERE room = '#team' AND seq = ?")
      .run(toBase64(bytes), l2.seq);
    // Swap lines 3 and 4 with their ids, so each still matches its relayed id.
    const set = db.prepare("UPDATE messages SET text = ?, id = ? WHERE room = '#team' AND seq = ?");
    set.run(l4.text, "swap", l3.seq);
    set.run(l3.text, l3.id, l4.seq);
    set.run(l4.text, l4.id, l3.seq);
    // Replay line 1 under a new seq (another sender_fp, which is never relayed, passes the
    // unique index).
    const last = (db.prepare("SELECT last_seq FROM rooms WHERE room = '#team'").get() as {
      last_seq: number;
    }).last_seq;
    db.prepare(
      "INSERT INTO messages (room, seq, ts, sender, text, me, id, sender_fp, kind, to_fp) " +
        "SELECT room, ?, ts, sender, text, me, id, 'replayed', kind, to_fp FROM messages " +
        "WHERE room = '#team' AND seq = ?",
    ).run(last + 1, l1.seq);
    db.prepare("UPDATE rooms SET last_seq = ? WHERE room = '#team'").run(last + 1);
    db.close();

    srv = await startServer({ dataDir });
    const bob2 = startClient(srv.port, flags("bob"), bobHome);
    procs.push(bob2);
    await waitFor(() => events(bob2).some((e) => e.t === "welcome"), 30_000, "bob2's welcome");
    await bob2.send("/join #team");
    await waitFor(
      () => texts(bob2).length >= 5,
      30_000,
      `bob2 gets the history (${bob2.lines.slice(-8).join("\n")})`,
    );
    const got = texts(bob2).map((e) => [e.seq, e.text, e.refused ?? "", e.undecryptable ?? ""]);
    assert.deepEqual(got, [
      [l1.seq, "one", "", ""],
      [l2.seq, "", "room_bad_signature", "cannot decrypt message from alice"],
      [l3.seq, "four", "", ""],
      [l4.seq, "", "room_out_of_order", "cannot decrypt message from alice"],
      [last + 1, "", "room_replayed", "cannot decrypt message from alice"],
    ]);
    await bob2.end();
    await bob2.status;
  } finally {
    for (const p of procs) await p.kill().catch(() => {});
    await srv.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
