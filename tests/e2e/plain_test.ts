/**
 * End to end with real processes: plain mode for scripts and bots (a piped line is sent and the
 * client exits 0 once it is acknowledged), output hygiene in text and `--json` modes, the
 * documented exit codes, `--version`/`--help`, `chat keys`, and a server that refuses key files
 * it must not use.
 */

import assert from "node:assert/strict";
import { type Identity, saveIdentity } from "../../shared/keys.ts";
import { VERSION } from "../../version.ts";
import { identities } from "../adversarial/helpers.ts";
import {
  type ChatRun,
  type ClientProcess,
  collectLines,
  exitWithin,
  MAIN,
  RUN_FLAGS,
  runChat,
  type ServerProcess,
  startClient,
  startServer,
  until,
  waitFor,
} from "../support/procs.ts";

type Obj = Record<string, unknown>;

/** A client home holding `id` (so the client process generates no keys). */
async function home(id: Identity): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-home-" });
  await Deno.chmod(dir, 0o700);
  await saveIdentity(`${dir}/identity`, id);
  return dir;
}

/** The output of one finished `chat …` run. */

/**
 * Runs `chat ...args` with stdin closed and `XDG_*` pointing into `scratch`, killing it after
 * `ms`; resolves with its exit code and output.
 */
function chat(args: string[], scratch: string, ms = 20_000): Promise<ChatRun> {
  const env = { XDG_CONFIG_HOME: `${scratch}/config`, XDG_STATE_HOME: `${scratch}/state` };
  return runChat(args, { env, ms });
}

/** Every stdout line of a `--json` client, parsed. */
function objs(c: ClientProcess): Obj[] {
  return c.lines.map((l) => JSON.parse(l) as Obj);
}

/** Room messages with `text` that a `--json` client has printed. */
function msgs(c: ClientProcess, text?: string): Obj[] {
  return objs(c).filter((o) => o.t === "msg" && (text === undefined || o.text === text));
}

/** True once a `--json` client has printed its `connected` status. */
function connected(c: ClientProcess): boolean {
  return objs(c).some((o) => o.t === "status" && o.state === "connected");
}

/** True if `line` holds a C0 or C1 control, DEL, or a bidi control (none may reach output). */
function hasControl(line: string): boolean {
  for (const ch of line) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x61c || c === 0x200e || c === 0x200f) {
      return true;
    }
    if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return true;
  }
  return false;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Starts a server, a client home per identity, runs `body`, then kills and removes it all. */
async function withServer(
  body: (server: ServerProcess, homes: string[], clients: ClientProcess[]) => Promise<void>,
): Promise<void> {
  const ids = await identities();
  const homes = [await home(ids[0]), await home(ids[1])];
  const clients: ClientProcess[] = [];
  let server: ServerProcess | undefined;
  try {
    server = await startServer();
    await body(server, homes, clients);
  } finally {
    for (const c of clients) await c.kill();
    await server?.stop("SIGKILL");
    if (server) await Deno.remove(server.dataDir, { recursive: true });
    for (const h of homes) await Deno.remove(h, { recursive: true });
  }
}

Deno.test("plain: `echo hi | chat client` sends, exits 0 after the ack; too long → exit 1", async () => {
  await withServer(async (server, [watcherHome, botHome], clients) => {
    const watcher = startClient(
      server.port,
      ["--accept-new", "--json", "--name", "alice"],
      watcherHome,
    );
    clients.push(watcher);
    await until(() => connected(watcher), "watcher connected", clients, 10_000);

    const bot = startClient(server.port, ["--name", "robot", "--accept-new"], botHome);
    clients.push(bot);
    await bot.send("hi");
    await bot.end();
    const status = await exitWithin(bot, 15_000);
    assert.equal(status.code, 0, bot.errors.join("\n"));
    // Its own copy (the acknowledgement) is printed before the exit.
    assert.ok(bot.lines.some((l) => /\brobot: hi$/.test(l)), bot.lines.join("\n"));
    await until(() => msgs(watcher, "hi").length === 1, "watcher sees hi", clients, 5_000);
    assert.equal(msgs(watcher, "hi")[0].from, "robot");

    // A line the server refuses is reported as not delivered, and the exit code says so.
    const long = "x".repeat(3000);
    const bot2 = startClient(server.port, ["--name", "robot"], botHome);
    clients.push(bot2);
    await bot2.send(long);
    await bot2.end();
    assert.equal((await exitWithin(bot2, 15_000)).code, 1, bot2.errors.join("\n"));
    assert.ok(bot2.lines.some((l) => l.includes("not delivered")), bot2.lines.join("\n"));
    // A barrier from the watcher: the refused line would have arrived before it.
    await watcher.send("after");
    await until(() => msgs(watcher, "after").length === 1, "watcher's own line", clients, 5_000);
    assert.equal(msgs(watcher).filter((m) => m.from === "robot").length, 1);
  });
});

Deno.test("plain: text output has no control characters and one line per event; --json is JSON", async () => {
  await withServer(async (server, [watcherHome, senderHome], clients) => {
    const watcher = startClient(server.port, ["--accept-new", "--name", "alice"], watcherHome);
    clients.push(watcher);
    await until(
      () => watcher.lines.some((l) => l.includes("alice")),
      "watcher in",
      clients,
      10_000,
    );
    const sender = startClient(
      server.port,
      ["--accept-new", "--json", "--name", "mallory"],
      senderHome,
    );
    clients.push(sender);
    await until(() => connected(sender), "sender connected", clients, 10_000);
    const texts = [
      "m1 \x1b[31mred\x1b[0m \x1b]0;title\x07",
      "m2 \u202eevil\u202c bidi",
      "m3 bell\x07 tab\t del\x7f csi\u009b2J",
      "m4 \x1b[2J\x1b[H clear screen",
      'm5 "quotes" \\ backslash',
    ];
    for (const t of texts) await sender.send(t);
    await until(
      () => objs(sender).filter((o) => o.t === "acked").length === texts.length,
      "all acknowledged",
      clients,
      5_000,
    );
    await sender.send("m6 done");
    await until(
      () => watcher.lines.some((l) => l.includes("m6 done")),
      "watcher sees m6",
      clients,
      5_000,
    );

    // Text mode: no control character anywhere, each message on exactly one line with its author.
    for (const l of watcher.lines) assert.ok(!hasControl(l), JSON.stringify(l));
    for (const marker of ["m1 ", "m2 ", "m3 ", "m4 ", "m5 ", "m6 "]) {
      const hits = watcher.lines.filter((l) => l.includes(marker));
      assert.equal(hits.length, 1, `${marker}: ${JSON.stringify(hits)}`);
      assert.match(hits[0], /mallory/);
    }
    assert.ok(watcher.lines.some((l) => l.includes('m5 "quotes" \\ backslash')));
    assert.ok(!watcher.lines.some((l) => l === ""), "no empty lines");

    // JSON mode: every line is one JSON object with a type, raw controls escaped, text exact.
    for (const l of sender.lines) {
      assert.ok(!hasControl(l), JSON.stringify(l));
      const o = JSON.parse(l);
      assert.ok(typeof o === "object" && o !== null && !Array.isArray(o), l);
      assert.equal(typeof o.t, "string", l);
    }
    for (const t of texts) assert.equal(msgs(sender, t).length, 1, JSON.stringify(t));

    await sender.end();
    await watcher.end();
    assert.equal((await exitWithin(sender, 15_000)).code, 0, sender.errors.join("\n"));
    assert.equal((await exitWithin(watcher, 15_000)).code, 0, watcher.errors.join("\n"));
  });
});

Deno.test("plain: reserved name → exit 4 with the server's reason; closed port → exit 5", async () => {
  await withServer(async (server, [h], clients) => {
    const admin = startClient(server.port, ["--accept-new", "--name", "admin"], h);
    clients.push(admin);
    await admin.end();
    assert.equal((await exitWithin(admin, 15_000)).code, 4, admin.errors.join("\n"));
    assert.match(admin.errors.join("\n"), /reserved/);

    const port = closedPort();
    const nobody = startClient(port, ["--accept-new", "--name", "alice"], h);
    clients.push(nobody);
    await nobody.end();
    assert.equal((await exitWithin(nobody, 15_000)).code, 5, nobody.errors.join("\n"));
    assert.match(nobody.errors.join("\n"), new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
    assert.deepEqual(nobody.lines.filter((l) => l.includes("connected")), []);
  });
});

Deno.test("cli: usage errors → exit 2 with usage on stderr, and no identity is created", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "chat-e2e-cli-" });
  try {
    const h = `${scratch}/home`;
    const cases: [string[], RegExp, RegExp][] = [
      [["client", "127.0.0.1:99999", "--name", "bot", "--home", h], /bad address/, /chat client/],
      [["client", "127.0.0.1:x", "--name", "bot", "--home", h], /bad address/, /chat client/],
      [["client", "127.0.0.1:5000", "--name", "bot", "--bogus"], /bogus/, /chat client/],
      [["client", "127.0.0.1:5000", "--home", h], /--name is required/, /chat client/],
      [["client", "--name", "bot"], /expected one HOST/, /chat client/],
      [["server", "--port", "70000"], /bad port/, /chat server/],
      [["frobnicate"], /unknown command/, /Usage:/],
      [[], /missing command/, /Usage:/],
    ];
    const runs = await Promise.all(cases.map(([args]) => chat(args, scratch)));
    runs.forEach((r, i) => {
      const [args, why, usage] = cases[i];
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, why, args.join(" "));
      assert.match(r.stderr, usage, args.join(" "));
      assert.match(r.stderr, /Usage/, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
    });
    await assert.rejects(Deno.stat(h), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${scratch}/config`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("cli: --version, --help and client --help exit 0 on stdout", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "chat-e2e-cli-" });
  try {
    const [version, help, clientHelp] = await Promise.all([
      chat(["--version"], scratch),
      chat(["--help"], scratch),
      chat(["client", "--help"], scratch),
    ]);
    for (const r of [version, help, clientHelp]) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
    }
    assert.equal(version.stdout, `chat ${VERSION}\n`);
    assert.match(help.stdout, /chat client HOST/);
    assert.match(help.stdout, /chat keys forget/);
    assert.match(clientHelp.stdout, /--no-reconnect/);
    assert.match(clientHelp.stdout, /--json/);
    assert.match(
      clientHelp.stdout,
      /Exit codes: 0 ok, 1 error[^]*2 usage, 3 .*4 .*5 could not connect/,
    );
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("cli: chat keys creates a 0600 identity once and refuses one left readable", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "chat-e2e-keys-" });
  try {
    const d = `${scratch}/home`;
    const first = await chat(["keys", "--home", d], scratch);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^SHA256:[A-Za-z0-9+/]{43}\n$/);
    const info = await Deno.stat(`${d}/identity`);
    assert.ok(info.isFile);
    if (Deno.build.os !== "windows") assert.equal(info.mode! & 0o777, 0o600);
    // Loaded, not regenerated.
    const again = await chat(["keys", "--home", d], scratch);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, first.stdout);

    if (Deno.build.os !== "windows") {
      await Deno.chmod(`${d}/identity`, 0o644);
      const before = await Deno.readFile(`${d}/identity`);
      const open = await chat(["keys", "--home", d], scratch);
      assert.equal(open.code, 1, open.stderr);
      assert.match(open.stderr, /too open/);
      assert.equal(open.stdout, "");
      assert.deepEqual(await Deno.readFile(`${d}/identity`), before);
      assert.equal((await Deno.stat(`${d}/identity`)).mode! & 0o777, 0o644);
    }
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("cli: a changed server key exits 3; chat keys forget removes the pin, then it connects", async () => {
  await withServer(async (server, [h], clients) => {
    const hp = `127.0.0.1:${server.port}`;
    const other = `127.0.0.1:1 SHA256:${"A".repeat(43)}\n`;
    await Deno.writeTextFile(`${h}/known_servers`, `${hp} SHA256:${"Z".repeat(43)}\n${other}`);
    const changed = startClient(server.port, ["--accept-new", "--name", "robot"], h);
    clients.push(changed);
    await changed.end();
    assert.equal((await exitWithin(changed, 15_000)).code, 3, changed.errors.join("\n"));
    assert.match(changed.errors.join("\n"), /HAS CHANGED/);

    const forget = await chat(["keys", "forget", hp, "--home", h], h);
    assert.equal(forget.code, 0, forget.stderr);
    assert.match(forget.stdout, /forgot/);
    assert.equal(await Deno.readTextFile(`${h}/known_servers`), other);
    const none = await chat(["keys", "forget", hp, "--home", h], h);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /no key pinned/);

    const ok = startClient(server.port, ["--accept-new", "--name", "robot"], h);
    clients.push(ok);
    await ok.send("back again");
    await ok.end();
    assert.equal((await exitWithin(ok, 15_000)).code, 0, ok.errors.join("\n"));
    const pins = await Deno.readTextFile(`${h}/known_servers`);
    assert.ok(pins.includes(`${hp} ${server.fingerprint}`), pins);
  });
});

/** Runs `chat server` on `dataDir`; a server that starts is killed and reported as such. */
async function serverRun(dataDir: string): Promise<ChatRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, "server", "--host", "127.0.0.1", "--port", "0", "--data", dataDir],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const out: string[] = [];
  const err: string[] = [];
  const done = Promise.all([collectLines(child.stdout, out), collectLines(child.stderr, err)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  try {
    await waitFor(() => exited || out.some((l) => l.includes("listening")), 15_000, "exit");
  } finally {
    if (!exited) child.kill("SIGKILL");
  }
  const s = await status;
  await done;
  return { code: s.code, stdout: out.join("\n"), stderr: err.join("\n") };
}

Deno.test("server: a host_key readable by others or corrupt → refuses to start, file unchanged", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "chat-e2e-srv-" });
  try {
    // Good case: a fresh data dir gets a 0600 host key and the server starts.
    const data = `${scratch}/open`;
    const server = await startServer({ dataDir: data });
    assert.equal((await server.stop()).code, 0);
    const key = `${data}/host_key`;
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600);
      await Deno.chmod(key, 0o644);
      const before = await Deno.readFile(key);
      const r = await serverRun(data);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /host_key/);
      assert.match(r.stderr, /0644 are too open/);
      assert.doesNotMatch(r.stdout, /listening/);
      assert.deepEqual(await Deno.readFile(key), before);
      assert.equal((await Deno.stat(key)).mode! & 0o777, 0o644);
    }

    const corrupt = `${scratch}/corrupt`;
    await Deno.mkdir(corrupt, { mode: 0o700 });
    const bad = new TextEncoder().encode("{not a key\n");
    await Deno.writeFile(`${corrupt}/host_key`, bad, { mode: 0o600 });
    const r = await serverRun(corrupt);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /host_key/);
    assert.match(r.stderr, /corrupt/);
    assert.doesNotMatch(r.stdout, /listening/);
    assert.deepEqual(await Deno.readFile(`${corrupt}/host_key`), bad);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});
