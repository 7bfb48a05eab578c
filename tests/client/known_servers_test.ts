import assert from "node:assert/strict";
import fc from "fast-check";
import { KnownServers, normalizeHostPort, parseHostPort } from "../../client/known_servers.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { PIN_FILE_MAX } from "../../client/pin_file.ts";
import { fingerprint, isFingerprint } from "../../shared/crypto.ts";
import { concat, utf8 } from "../../shared/encoding.ts";

const POSIX = Deno.build.os !== "windows";
const FP1 = await fingerprint(utf8.encode("one"));
const FP2 = await fingerprint(utf8.encode("two"));
const FP3 = await fingerprint(utf8.encode("three"));

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_known_servers_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("normalizeHostPort: lower-case names, bracketed compressed IPv6, checked port", () => {
  assert.equal(normalizeHostPort("Chat.Example.COM", 5000), "chat.example.com:5000");
  assert.equal(normalizeHostPort("127.0.0.1", 1), "127.0.0.1:1");
  assert.equal(normalizeHostPort("::1", 5000), "[::1]:5000");
  assert.equal(normalizeHostPort("[::1]", 5000), "[::1]:5000");
  assert.equal(normalizeHostPort("0:0:0:0:0:0:0:1", 65535), "[::1]:65535");
  assert.equal(normalizeHostPort("2001:DB8::A", 5000), "[2001:db8::a]:5000");
  assert.equal(normalizeHostPort("fe80::1%eth0", 5000), "[fe80::1%eth0]:5000");
  assert.throws(() => normalizeHostPort("host", 0), RangeError);
  assert.throws(() => normalizeHostPort("host", 65536), RangeError);
  assert.throws(() => normalizeHostPort("host", 1.5), RangeError);
  assert.throws(() => normalizeHostPort("", 5000), TypeError);
  assert.throws(() => normalizeHostPort("a b", 5000), TypeError);
  assert.throws(() => normalizeHostPort("host#x", 5000), TypeError);
  assert.throws(() => normalizeHostPort("::g", 5000), TypeError);
  assert.throws(() => normalizeHostPort("1:2:3:4:5:6:7:8:9", 5000), TypeError);
});

Deno.test("parseHostPort: accepts host:port and [v6]:port only", () => {
  assert.equal(parseHostPort("Host:5000"), "host:5000");
  assert.equal(parseHostPort("[::1]:5000"), "[::1]:5000");
  assert.equal(parseHostPort("::1:5000"), null);
  assert.equal(parseHostPort("host"), null);
  assert.equal(parseHostPort("host:"), null);
  assert.equal(parseHostPort("host:0"), null);
  assert.equal(parseHostPort("host:99999"), null);
  assert.equal(parseHostPort("host:50x"), null);
  assert.equal(parseHostPort(" host:5000"), null);
});

Deno.test("normalizeHostPort output parses back to itself", () => {
  const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
  fc.assert(
    fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
      const key = normalizeHostPort(h, port);
      assert.equal(parseHostPort(key), key);
      assert.equal(normalizeHostPort(h.toUpperCase(), port), key);
    }),
  );
});

Deno.test("isFingerprint: SHA256: and 43 base64 characters", () => {
  assert.equal(isFingerprint(FP1), true);
  assert.equal(isFingerprint(FP1 + "="), false);
  assert.equal(isFingerprint(FP1.slice(0, -1)), false);
  assert.equal(isFingerprint("sha256:" + FP1.slice(7)), false);
});

Deno.test("KnownServers: pin, lookup, reload, mode 0600, no temp files left", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cfg/known_servers`;
    const ks = await KnownServers.load(path);
    assert.equal(ks.lookup("example.com:5000"), undefined);
    await ks.pin("Example.com:5000", FP1);
    assert.equal(ks.lookup("EXAMPLE.COM:5000"), FP1);
    assert.equal(ks.lookup("example.com:5001"), undefined);
    assert.equal(ks.lookup("not a host"), undefined);
    await ks.pin("[0::1]:5000", FP2);
    assert.equal(ks.lookup("[::1]:5000"), FP2);
    assert.equal(
      await Deno.readTextFile(path),
      `example.com:5000 ${FP1}\n[::1]:5000 ${FP2}\n`,
    );
    if (POSIX) assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await names(`${dir}/cfg`), ["known_servers"]);
    const again = await KnownServers.load(path);
    assert.equal(again.lookup("example.com:5000"), FP1);
    assert.equal(again.lookup("[::1]:5000"), FP2);
  });
});

Deno.test("KnownServers: a changed key cannot be pinned; only forget removes a pin", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/known_servers`;
    const ks = await KnownServers.load(path);
    await ks.pin("host:5000", FP1);
    const before = await Deno.readTextFile(path);
    await ks.pin("HOST:5000", FP1); // same pin: no-op
    assert.equal(await Deno.readTextFile(path), before);
    await assert.rejects(
      ks.pin("host:5000", FP2),
      (e) => e instanceof ProtocolError && e.code === "host_key_changed" && e.message.includes(FP1),
    );
    assert.equal(await Deno.readTextFile(path), before);
    assert.equal(ks.lookup("host:5000"), FP1);
    assert.equal(await ks.forget("Host:5000"), true);
    assert.equal(ks.lookup("host:5000"), undefined);
    assert.equal(await Deno.readTextFile(path), "");
    assert.equal(await ks.forget("host:5000"), false);
    await ks.pin("host:5000", FP2);
    assert.equal(ks.lookup("host:5000"), FP2);
    await assert.rejects(ks.pin("host", FP1), TypeError);
    await assert.rejects(ks.pin("host:1", "SHA256:short"), TypeError);
    await assert.rejects(ks.forget("host"), TypeError);
  });
});

Deno.test("KnownServers: comments, blank and malformed lines are ignored and kept byte for byte", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/known_servers`;
    const original = concat(
      utf8.encode(
        [
          "# pinned servers",
          "",
          "   ",
          "garbage",
          `bad:port ${FP3}`,
          "a.example:1 SHA256:tooshort",
          `a.example:1 ${FP3} extra`,
          `A.Example:1 ${FP1}\r`,
          `a.example:1 ${FP2}`,
          `  b.example:2\t${FP2}  `,
          "",
        ].join("\n"),
      ),
      new Uint8Array([0xff, 0xfe, 0x0a]), // a line that is not UTF-8
      utf8.encode(`c.example:3 ${FP3}`), // no final newline
    );
    await Deno.writeFile(path, original);
    const ks = await KnownServers.load(path);
    assert.equal(ks.lookup("a.example:1"), FP1, "first valid line wins; CRLF accepted");
    assert.equal(ks.lookup("b.example:2"), FP2);
    assert.equal(ks.lookup("c.example:3"), FP3);
    assert.equal(ks.lookup("bad:port"), undefined);

    await ks.pin("d.example:4", FP1);
    assert.deepEqual(
      await Deno.readFile(path),
      concat(original, utf8.encode(`\nd.example:4 ${FP1}\n`)),
    );

    assert.equal(await ks.forget("a.example:1"), true);
    const text = new TextDecoder().decode(await Deno.readFile(path));
    assert.equal(text.includes(`A.Example:1 ${FP1}`), false);
    assert.equal(text.includes(`a.example:1 ${FP2}\n`), false);
    assert.equal(text.includes(`a.example:1 ${FP3} extra\n`), true, "malformed line kept");
    assert.equal(text.includes("a.example:1 SHA256:tooshort\n"), true);
    assert.equal(text.startsWith("# pinned servers\n\n   \ngarbage\n"), true);
    const bytes = await Deno.readFile(path);
    assert.equal(bytes.indexOf(0xff) >= 0, true, "non-UTF-8 line kept");
    assert.equal((await KnownServers.load(path)).lookup("a.example:1"), undefined);
    assert.equal((await KnownServers.load(path)).lookup("c.example:3"), FP3);
  });
});

Deno.test("KnownServers: each change re-reads the file, so two instances do not lose pins", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/known_servers`;
    const a = await KnownServers.load(path);
    const b = await KnownServers.load(path);
    await a.pin("one:1", FP1);
    await b.pin("two:2", FP2);
    await assert.rejects(b.pin("one:1", FP3), ProtocolError);
    const c = await KnownServers.load(path);
    assert.equal(c.lookup("one:1"), FP1);
    assert.equal(c.lookup("two:2"), FP2);
  });
});

Deno.test({
  name: "KnownServers: rewrite replaces the file atomically with a new 0600 file",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/known_servers`;
      await Deno.writeTextFile(path, `one:1 ${FP1}\n`, { mode: 0o644 });
      await Deno.chmod(path, 0o644);
      const inode = (await Deno.stat(path)).ino;
      const ks = await KnownServers.load(path);
      await ks.pin("two:2", FP2);
      const st = await Deno.stat(path);
      assert.notEqual(st.ino, inode);
      assert.equal(st.mode! & 0o777, 0o600);
      assert.deepEqual(await names(dir), ["known_servers"]);
    });
  },
});

Deno.test("KnownServers: file size is limited to 1 MiB, checked before reading", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/known_servers`;
    const line = `one:1 ${FP1}\n`;
    const filler = "#".repeat(PIN_FILE_MAX - line.length - 1) + "\n";
    await Deno.writeTextFile(path, line + filler);
    assert.equal((await Deno.stat(path)).size, PIN_FILE_MAX);
    assert.equal((await KnownServers.load(path)).lookup("one:1"), FP1);
    await Deno.writeTextFile(path, line + "#" + filler);
    await assert.rejects(KnownServers.load(path), RangeError);
  });
});
