/**
 * Test support: the release before the node:crypto move (commit 7e71a31: it offers no record
 * cipher, knows no room records and speaks AES-256-GCM only), extracted from this checkout's git
 * history so tests can run its `chat` next to this one.
 * @module
 */

/** The old release's commit. */
export const OLD = "7e71a31";
const ROOT = new URL("../../", import.meta.url).pathname;

/** Why the old release cannot be checked out here, or `null` if it can. */
export function oldUnavailable(): string | null {
  if (Deno.build.os === "windows") return "needs a POSIX shell and tar";
  try {
    const out = new Deno.Command("git", {
      args: ["-C", ROOT, "cat-file", "-e", `${OLD}^{commit}`],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return out.success ? null : `commit ${OLD} is not in this checkout`;
  } catch (e) {
    return `git cannot run (${e instanceof Error ? e.message : e})`;
  }
}

/** Extracts the old release into a fresh directory under `root`; returns its main.ts. */
export async function extractOld(root: string): Promise<string> {
  const dir = `${root}/old`;
  await Deno.mkdir(dir);
  const out = await new Deno.Command("sh", {
    args: ["-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "sh", ROOT, OLD, dir],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`extracting ${OLD}: ${new TextDecoder().decode(out.stderr)}`);
  return `${dir}/main.ts`;
}
