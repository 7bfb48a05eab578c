/**
 * Shared fixtures of the storage tests: a small tmpfs mounted for one test (skipped with a
 * message where mounting is not allowed), filling it, and raw-client requests.
 * @module
 */

import { EvilClient, type SigningKey } from "../support/evil_client.ts";
import { newId } from "../../shared/messages.ts";

/** Runs `cmd args…`; true when it exited 0. */
export async function run(cmd: string, ...args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * Mounts a tmpfs of `mib` MiB on a new temporary directory and returns its path, or undefined
 * (after printing why) where this process may not mount one.
 */
export async function mountSmallFs(mib: number, what: string): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "chat-smallfs-" });
  if (
    Deno.build.os === "linux" &&
    await run("mount", "-t", "tmpfs", "-o", `size=${mib}m`, "tmpfs", dir)
  ) {
    return dir;
  }
  await Deno.remove(dir);
  console.warn(`${what}: cannot mount a tmpfs here (needs root on Linux); test skipped`);
  return undefined;
}

/** Unmounts and removes a directory made by {@linkcode mountSmallFs}. */
export async function unmountSmallFs(dir: string): Promise<void> {
  await run("umount", "-l", dir);
  await Deno.remove(dir, { recursive: true });
}

/** Fills the filesystem of `path` with the file `path` until a write fails (no space left). */
export async function fillUp(path: string): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (let i = 0; i < 1 << 16; i++) {
      try {
        await f.write(chunk);
      } catch {
        break;
      }
    }
    // The last pages: smaller writes until even one byte does not fit.
    for (const size of [4096, 512, 1]) {
      for (let i = 0; i < 1 << 12; i++) {
        try {
          await f.write(chunk.subarray(0, size));
        } catch {
          break;
        }
      }
    }
  } finally {
    f.close();
  }
}

/** Sends one request and reads until its answer (any message carrying its `id`). */
export async function request(
  c: EvilClient,
  msg: Record<string, unknown> & { id: string },
  ms = 10_000,
): Promise<Record<string, unknown>> {
  await c.send(msg);
  const { match, seen } = await c.readUntil((m) => m.id === msg.id, ms);
  if (!match) {
    throw new Error(`closed before an answer to ${JSON.stringify(msg)}: ${JSON.stringify(seen)}`);
  }
  return match;
}

/** A `cmd` request with a fresh id. */
export function cmd(
  name: string,
  ...args: string[]
): { t: "cmd"; id: string; name: string; args: string[] } {
  return { t: "cmd", id: newId(), name, args };
}

/** Connects, handshakes and sends `auth` for `name` with `key`; returns the client and answer. */
export async function tryLogin(
  port: number,
  name: string,
  key: SigningKey | undefined,
  open: EvilClient[],
): Promise<{ c: EvilClient; answer: Record<string, unknown> }> {
  const c = await EvilClient.connect(port);
  open.push(c);
  if (key !== undefined) c.key = key;
  await c.handshake();
  await c.auth({ name });
  const { match, seen } = await c.readUntil(
    (m) => m.t === "welcome" || m.t === "error" || m.t === "bye",
    10_000,
  );
  if (!match) {
    throw new Error(`closed without an answer to the login of ${name}: ${JSON.stringify(seen)}`);
  }
  return { c, answer: match };
}
