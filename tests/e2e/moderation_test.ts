/**
 * Moderation against a real `chat server` process, with raw protocol clients whose identities
 * the test chooses: the `--log` audit trail and the console notices.
 */
import assert from "node:assert/strict";
import { fingerprint } from "../../shared/crypto.ts";
import { newId } from "../../shared/messages.ts";
import { startServer, waitFor } from "../support/procs.ts";
import { EvilClient, newSigningKey, type SigningKey } from "../support/evil_client.ts";

type Msg = Record<string, unknown>;

/** A logged-in raw client with `key`, as `name`. */
async function login(port: number, name: string, key?: SigningKey): Promise<EvilClient> {
  const c = await EvilClient.connect(port);
  if (key !== undefined) c.key = key;
  try {
    await c.handshake();
    await c.login(name);
    return c;
  } catch (e) {
    await c.close();
    throw e;
  }
}

/** Sends `/name args` and returns the `reply` or `error` answering it. */
async function cmd(c: EvilClient, name: string, ...args: string[]): Promise<Msg> {
  const id = newId();
  await c.send({ t: "cmd", id, name, args });
  const { match } = await c.readUntil((m) => m.id === id && (m.t === "reply" || m.t === "error"));
  if (match === undefined) throw new Error(`connection closed before the answer to /${name}`);
  return match;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

Deno.test("--log: every moderation action is recorded with who did it, ts in ISO 8601 UTC", async () => {
  const admin = await newSigningKey();
  const adminFp = await fingerprint(admin.publicRaw);
  const dir = await Deno.makeTempDir({ prefix: "chat-mod-log-" });
  const logPath = `${dir}/chat.jsonl`;
  const srv = await startServer({
    dataDir: `${dir}/srv`,
    args: ["--admin", adminFp, "--log", logPath],
  });
  const clients: EvilClient[] = [];
  try {
    const boss = await login(srv.port, "boss", admin);
    const bob = await login(srv.port, "bob");
    clients.push(boss, bob);
    const bobFp = await fingerprint(bob.key.publicRaw);
    for (
      const [name, ...args] of [
        ["op", "bob"],
        ["deop", "bob"],
        ["mute", "bob"],
        ["unmute", "bob"],
        ["motd", "welcome", "all"],
        ["topic", "#lobby", "rules"],
        ["ban", "10.1.2.3", "1h", "spam"],
        ["unban", "10.1.2.3"],
        ["kick", "bob", "bye"],
      ]
    ) {
      const r = await cmd(boss, name, ...args);
      assert.equal(r.t, "reply", `/${name}: ${JSON.stringify(r)}`);
    }
    // A non-operator's attempt is refused and not recorded as an action.
    const eve = await login(srv.port, "eve");
    clients.push(eve);
    assert.equal((await cmd(eve, "kick", "boss")).code, "not_permitted");
    await waitFor(() => /INFO kick by boss/.test(srv.stderr()), 10_000, "kick notice");
    await srv.stop();

    const entries = (await Deno.readTextFile(logPath)).trimEnd().split("\n").map((l) =>
      JSON.parse(l) as Msg
    );
    for (const e of entries) assert.match(String(e.ts), ISO);
    const mod = entries.filter((e) => e.by_fp !== undefined);
    const view = (e: Msg) => {
      const { ts: _ts, ...rest } = e;
      return rest;
    };
    const by = { by: "boss", by_fp: adminFp };
    assert.deepEqual(mod.map(view), [
      { kind: "op", name: "bob", ...by, target: bobFp },
      { kind: "deop", name: "bob", ...by, target: bobFp },
      { kind: "mute", name: "bob", ...by, target: bobFp },
      { kind: "unmute", name: "bob", ...by, target: bobFp },
      { kind: "motd", ...by, text: "welcome all" },
      { kind: "ban", ...by, target: "10.1.2.3", reason: "spam", text: mod[5].text },
      { kind: "unban", ...by, target: "10.1.2.3" },
      { kind: "kick", name: "bob", ...by, target: bobFp, reason: "bye" },
    ]);
    assert.match(String(mod[5].text), /^until \d{4}-/);
    // The topic change is the room's topic event, with who set it.
    assert.ok(
      entries.some((e) =>
        e.kind === "topic" && e.room === "#lobby" && e.by === "boss" && e.text === "rules"
      ),
    );
    // The console saw it all at info level, without --verbose.
    const err = srv.stderr();
    for (const k of ["op", "deop", "mute", "unmute", "motd", "topic", "ban", "unban", "kick"]) {
      assert.match(err, new RegExp(`INFO ${k} by boss`), k);
    }
    assert.match(
      err,
      /INFO logout ip=127\.0\.0\.1 name=bob fingerprint=SHA256:\S+ reason="kicked by boss"/,
    );
    assert.doesNotMatch(err, /INFO kick by eve/);
  } finally {
    for (const c of clients) await c.close();
    await srv.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hierarchy: operators made with /op cannot kick, ban, mute or deop an --admin", async () => {
  const admin = await newSigningKey();
  const adminFp = await fingerprint(admin.publicRaw);
  const dir = await Deno.makeTempDir({ prefix: "chat-mod-rank-" });
  const srv = await startServer({ dataDir: `${dir}/srv`, args: ["--admin", adminFp] });
  const clients: EvilClient[] = [];
  try {
    const boss = await login(srv.port, "boss", admin);
    const carol = await login(srv.port, "carol");
    const dave = await login(srv.port, "dave");
    clients.push(boss, carol, dave);

    // The person made operator is told, by whom.
    assert.equal((await cmd(boss, "op", "carol")).t, "reply");
    const told = await carol.readUntil((m) => m.t === "event" && m.kind === "op");
    assert.deepEqual(
      { ...told.match, ts: 0 },
      { t: "event", ts: 0, kind: "op", name: "carol", by: "boss" },
    );

    // /whois shows the rank.
    assert.match(String((await cmd(dave, "whois", "boss")).text), /^boss \(administrator\)\n/);
    assert.match(String((await cmd(dave, "whois", "carol")).text), /^carol \(operator\)\n/);
    assert.match(String((await cmd(dave, "whois", "dave")).text), /^dave\n/);

    // Bad case: every action on the administrator is refused, with the reason.
    const refused = "boss is an administrator of this server (--admin); operators made with /op " +
      "cannot act on administrators.";
    for (
      const [name, ...args] of [
        ["kick", "boss"],
        ["ban", "boss"],
        ["mute", "boss"],
        ["deop", "boss"],
      ]
    ) {
      const r = await cmd(carol, name, ...args);
      assert.equal(r.t, "error", `/${name}`);
      assert.equal(r.code, "not_permitted", `/${name}`);
      if (name !== "deop") assert.equal(r.message, refused, `/${name}`);
    }
    assert.equal((await cmd(carol, "ban", adminFp)).code, "not_permitted");
    assert.equal((await cmd(carol, "ban", "127.0.0.1")).code, "not_permitted");
    assert.equal((await cmd(carol, "bans")).text, "No bans.");
    // The administrator is still here and can speak.
    assert.equal((await cmd(boss, "who")).t, "reply");

    // Good case: the same operator acts on an ordinary user.
    assert.equal((await cmd(carol, "kick", "dave", "spam")).text, "Kicked dave.");
    const bye = await dave.readUntil((m) => m.t === "bye");
    assert.equal(bye.match?.reason, "kicked");

    // The administrator can take the rights back; the person is told.
    assert.equal((await cmd(boss, "deop", "carol")).t, "reply");
    const untold = await carol.readUntil((m) => m.t === "event" && m.kind === "deop");
    assert.equal(untold.match?.by, "boss");
    assert.equal((await cmd(carol, "kick", "boss")).code, "not_permitted");
  } finally {
    for (const c of clients) await c.close();
    await srv.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/ban NAME bans the identity owning the name: every session and every name", async () => {
  const admin = await newSigningKey();
  const dir = await Deno.makeTempDir({ prefix: "chat-mod-ban-" });
  const srv = await startServer({
    dataDir: `${dir}/srv`,
    args: ["--admin", await fingerprint(admin.publicRaw)],
  });
  const clients: EvilClient[] = [];
  try {
    const boss = await login(srv.port, "boss", admin);
    const mkey = await newSigningKey();
    const mfp = await fingerprint(mkey.publicRaw);
    const first = await login(srv.port, "mallory", mkey);
    await first.close();
    const other = await login(srv.port, "malice", mkey); // same identity, second name
    const bystander = await login(srv.port, "bystander");
    clients.push(boss, other, bystander);

    const r = await cmd(boss, "ban", "mallory", "spam");
    assert.equal(
      r.text,
      `Banned ${mfp} (fingerprint, by boss, permanent): spam (owner of mallory); 1 connection closed.`,
    );
    // The session under the other name is closed too.
    assert.equal((await other.readUntil((m) => m.t === "bye")).match?.reason, "banned");
    // No name of that identity can come back.
    for (const name of ["mallory", "malice", "fresh"]) {
      const c = await EvilClient.connect(srv.port);
      clients.push(c);
      c.key = mkey;
      await c.handshake();
      await c.auth({ name });
      const { match } = await c.readUntil((m) => m.t === "error" || m.t === "welcome");
      assert.equal(match?.code, "banned", name);
    }
    // Another identity is unaffected, and cannot take the banned identity's names.
    assert.equal((await cmd(bystander, "who")).t, "reply");
    const thief = await EvilClient.connect(srv.port);
    clients.push(thief);
    await thief.handshake();
    await thief.auth({ name: "mallory" });
    assert.equal((await thief.readUntil((m) => m.t === "error")).match?.code, "name_owned");

    // /unban by the name lifts the identity's ban.
    assert.equal((await cmd(boss, "unban", "mallory")).text, `Unbanned ${mfp}.`);
    clients.push(await login(srv.port, "malice", mkey));
    // An unowned name is still banned as a name.
    assert.match(String((await cmd(boss, "ban", "nobody")).text), /^Banned nobody \(name,/);
  } finally {
    for (const c of clients) await c.close();
    await srv.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/mute covers room messages, private messages, topic, away and nick", async () => {
  const admin = await newSigningKey();
  const dir = await Deno.makeTempDir({ prefix: "chat-mod-mute-" });
  const srv = await startServer({
    dataDir: `${dir}/srv`,
    args: ["--admin", await fingerprint(admin.publicRaw)],
  });
  const clients: EvilClient[] = [];
  try {
    const boss = await login(srv.port, "boss", admin);
    const bob = await login(srv.port, "bob");
    const carol = await login(srv.port, "carol");
    clients.push(boss, bob, carol);
    assert.equal((await cmd(boss, "mute", "bob")).text, "Muted bob.");

    const answer = async (c: EvilClient, msg: Msg) => {
      const id = newId();
      await c.send({ ...msg, id });
      const { match } = await c.readUntil((m) => m.id === id);
      return match;
    };
    const muted = [
      [{ t: "say", room: "#lobby", text: "hi" }, "You are muted; your message was not sent."],
      [
        { t: "dm", to: "carol", envelope: "AAAA" },
        "You are muted; your private message was not sent.",
      ],
      [
        { t: "cmd", name: "topic", args: ["#lobby", "x"] },
        "You are muted; the topic was not changed.",
      ],
      [{ t: "cmd", name: "away", args: ["x"] }, "You are muted; your away text was not set."],
      [{ t: "cmd", name: "nick", args: ["bobby"] }, "You are muted; your name was not changed."],
    ] as const;
    for (const [msg, text] of muted) {
      const m = await answer(bob, msg);
      assert.deepEqual([m?.t, m?.code, m?.message], ["error", "muted", text], JSON.stringify(msg));
    }
    // Nobody saw anything from bob; the topic is unchanged.
    assert.equal((await cmd(carol, "topic", "#lobby")).text, "#lobby has no topic.");
    assert.equal((await cmd(carol, "whois", "bob")).data !== undefined, true);
    assert.equal(((await cmd(carol, "whois", "bob")).data as Msg).away, undefined);

    // The same requests from someone not muted go through.
    assert.equal((await cmd(carol, "topic", "#lobby", "fine")).text, "Topic of #lobby set.");
    assert.equal((await cmd(carol, "away", "lunch")).text, "You are away: lunch");
    // Unmuted, bob can speak again.
    assert.equal((await cmd(boss, "unmute", "bob")).text, "Unmuted bob.");
    assert.equal((await cmd(bob, "topic", "#lobby", "mine")).text, "Topic of #lobby set.");
  } finally {
    for (const c of clients) await c.close();
    await srv.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("room operators: the creator runs the room; others cannot; modes are enforced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-mod-room-" });
  // Many commands from one user in a few seconds: a rate budget that does not interfere.
  const srv = await startServer({ dataDir: `${dir}/srv`, args: ["--limit", "rateBurst=100"] });
  const clients: EvilClient[] = [];
  try {
    const alice = await login(srv.port, "alice");
    const bob = await login(srv.port, "bob");
    const carol = await login(srv.port, "carol");
    clients.push(alice, bob, carol);
    assert.equal((await cmd(alice, "join", "#dev")).text, "You joined #dev."); // creates it
    assert.equal((await cmd(bob, "join", "#dev")).text, "You joined #dev.");
    assert.equal((await cmd(bob, "mode", "#dev")).text, "#dev: -i +t; operators: alice");

    // Bad: a member who is not a room operator.
    const denied = "Only the operators of #dev can do that.";
    assert.deepEqual(
      [(await cmd(bob, "topic", "#dev", "mine")).message],
      ["The topic of #dev is locked: only its operators can change it."],
    );
    assert.equal((await cmd(bob, "kick", "#dev", "alice")).message, denied);
    assert.equal((await cmd(bob, "mode", "#dev", "+i")).message, denied);
    assert.equal((await cmd(bob, "mode", "#dev", "-t")).message, denied);
    assert.equal((await cmd(bob, "invite", "carol", "#dev")).message, denied);
    assert.equal((await cmd(bob, "kick", "alice")).message, "/kick is for operators only.");
    // Good: the room operator.
    assert.equal((await cmd(alice, "topic", "#dev", "ours")).text, "Topic of #dev set.");
    assert.equal((await cmd(alice, "mode", "#dev", "+i")).text, "#dev: +i +t; operators: alice");
    const ev = await bob.readUntil((m) => m.t === "event" && m.kind === "mode");
    assert.deepEqual([ev.match?.room, ev.match?.by, ev.match?.text], ["#dev", "alice", "+i"]);

    // Invite-only: carol is refused until invited.
    const refused = await cmd(carol, "join", "#dev");
    assert.deepEqual(
      [refused.code, refused.message],
      ["invite_only", "#dev is invite-only; ask one of its operators for /invite."],
    );
    assert.equal((await cmd(alice, "invite", "carol", "#dev")).text, "carol may now join #dev.");
    assert.equal((await cmd(carol, "join", "#dev")).text, "You joined #dev.");

    // Kick from the room: bob leaves #dev, stays connected, and cannot come back uninvited.
    assert.equal((await cmd(alice, "kick", "#dev", "bob", "noise")).text, "Kicked bob from #dev.");
    const kicked = await bob.readUntil((m) => m.t === "event" && m.kind === "kick");
    assert.deepEqual(
      [kicked.match?.room, kicked.match?.name, kicked.match?.by, kicked.match?.reason],
      ["#dev", "bob", "alice", "noise"],
    );
    assert.equal((await cmd(bob, "who")).t, "reply", "still connected");
    assert.equal((await cmd(bob, "join", "#dev")).code, "invite_only");

    // A room operator can share the role and unlock the topic.
    await cmd(alice, "mode", "#dev", "+o", "carol", "-t");
    assert.equal((await cmd(carol, "mode", "#dev")).text, "#dev: +i -t; operators: alice, carol");
    assert.equal((await cmd(carol, "topic", "#dev", "carol's")).text, "Topic of #dev set.");
    // #lobby has no room operators: its topic is open, its modes are the server's.
    assert.equal((await cmd(bob, "topic", "#lobby", "hi all")).text, "Topic of #lobby set.");
    assert.equal(
      (await cmd(bob, "mode", "#lobby", "+i")).message,
      "Only the operators of #lobby can do that.",
    );
  } finally {
    for (const c of clients) await c.close();
    await srv.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
