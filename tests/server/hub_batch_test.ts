/**
 * The hub over a group-committing store: messages are relayed (and so acknowledged) only after
 * their batch commits, in order per room; a batch that fails to commit answers exactly its own
 * requests with an error and the hub goes on.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { FakePeer, type Json } from "../support/fake_peer.ts";
import { DEFAULT_LIMITS } from "../../shared/limits.ts";
import { Blacklist } from "../../shared/names.ts";
import { Hub } from "../../server/hub.ts";
import { Store } from "../../server/store.ts";

const fp = (c: string) => "SHA256:" + c.repeat(43);
const mid = (n: number) => btoa(String(n).padStart(16, "0"));

async function withWorld(
  body: (w: { hub: Hub; commit: () => void; path: string; store: Store }) => void,
) {
  const dir = await Deno.makeTempDir({ prefix: "chat_hub_batch_" });
  const path = `${dir}/db.sqlite`;
  const commits: (() => void)[] = [];
  const store = Store.open(path, { schedule: (c) => commits.push(c) });
  const hub = new Hub({
    store,
    limits: DEFAULT_LIMITS,
    now: () => 1_700_000_000_000,
    serverName: "test",
    version: "0.1.0",
    motd: () => "",
    hostFingerprint: fp("H"),
    admins: new Set(),
    blacklist: () => Blacklist.parse(""),
    startedAt: 0,
    connectionCount: () => 0,
  });
  const commit = () => {
    assert.equal(commits.length, 1, "one commit scheduled");
    commits.shift()!();
  };
  try {
    body({ hub, commit, path, store });
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function connect(hub: Hub, id: number, name: string): FakePeer {
  const p = new FakePeer(id, fp(name[0].toUpperCase()));
  const auth = {
    t: "auth" as const,
    name,
    sig_pub: "x",
    proof: "p",
    client: "t",
    rooms: ["#lobby"],
  };
  assert.equal(hub.authenticate(p, auth), "ok");
  p.take();
  return p;
}

const say = (hub: Hub, p: FakePeer, n: number, text: string) =>
  hub.handle(p.id, { t: "say", id: mid(n), room: "#lobby", text });

const brief = (ms: Json[]) => ms.map((m) => m.t === "msg" ? `${m.seq} ${m.text}` : m.code);

Deno.test("hub batch: relayed and acknowledged after the commit, in order, one line per member", async () => {
  await withWorld(({ hub, commit }) => {
    const a = connect(hub, 1, "alice");
    const b = connect(hub, 2, "bob");
    a.take();
    say(hub, a, 1, "a1");
    say(hub, b, 2, "b1");
    say(hub, a, 3, "a2");
    say(hub, a, 1, "a1 resent in the same batch");
    assert.deepEqual(a.lines, [], "no acknowledgement before the commit");
    assert.deepEqual(b.lines, []);
    commit();
    assert.deepEqual(brief(a.take()), ["1 a1", "2 b1", "3 a2", "1 a1"]);
    assert.deepEqual(brief(b.take()), ["1 a1", "2 b1", "3 a2"], "the resend only to its sender");
  });
});

Deno.test("hub batch: a failed commit answers exactly its requests with error internal", async () => {
  await withWorld(({ hub, commit, path }) => {
    const a = connect(hub, 1, "alice");
    const b = connect(hub, 2, "bob");
    a.take();
    say(hub, a, 1, "kept");
    commit();
    a.take();
    b.take();
    const other = new DatabaseSync(path);
    try {
      other.exec(
        "CREATE TRIGGER fail BEFORE INSERT ON messages WHEN NEW.text = 'boom' " +
          "BEGIN SELECT RAISE(ABORT, 'no space'); END",
      );
      say(hub, a, 2, "boom");
      say(hub, b, 3, "in the same batch");
      commit();
      const ea = a.take();
      const eb = b.take();
      assert.deepEqual(ea.map((m) => [m.t, m.id, m.code]), [["error", mid(2), "internal"]]);
      assert.deepEqual(eb.map((m) => [m.t, m.id, m.code]), [["error", mid(3), "internal"]]);
      other.exec("DROP TRIGGER fail");
    } finally {
      other.close();
    }
    // The hub goes on; the failed id may be sent again.
    say(hub, b, 3, "in the same batch");
    commit();
    assert.deepEqual(brief(a.take()), ["2 in the same batch"]);
    assert.deepEqual(brief(b.take()), ["2 in the same batch"]);
  });
});

Deno.test("hub batch: a request after says in the same turn is answered after their acks", async () => {
  await withWorld(({ hub, commit }) => {
    const a = connect(hub, 1, "alice");
    const b = connect(hub, 2, "bob");
    a.take();
    say(hub, a, 1, "bye all");
    hub.handle(a.id, { t: "cmd", id: mid(2), name: "leave", args: ["#lobby"] });
    const got = a.take();
    assert.deepEqual(got.map((m) => m.t === "msg" ? m.text : m.t), ["bye all", "event", "reply"]);
    assert.deepEqual(b.take().map((m) => m.t === "msg" ? m.text : m.kind), ["bye all", "leave"]);
    commit(); // the scheduled commit finds nothing left
    assert.deepEqual(a.lines, []);
  });
});
