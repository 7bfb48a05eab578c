/**
 * Opens the user's browser on the local page. The address carries the page's token, so it is
 * not put on a command line (other local users can read those): a private file (mode 0600)
 * that redirects to it is opened instead, and removed a little later. Needs the permission to
 * run the platform's opener (`xdg-open`, `open` on macOS, `explorer` on Windows); without it
 * nothing is opened and the caller prints the address.
 * @module
 */

/** The program that opens a file in the default browser on this platform. */
export function opener(os: typeof Deno.build.os = Deno.build.os): string {
  return os === "darwin" ? "open" : os === "windows" ? "explorer" : "xdg-open";
}

/** The redirecting page: no script, only a refresh to `url`. */
export function launcherHtml(url: string): string {
  const safe = url.replace(/[^A-Za-z0-9:/?=._-]/g, "");
  return `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${safe}">` +
    `<title>chat</title><a href="${safe}">open chat</a>\n`;
}

/** Tries to open `url`; true when the opener was started (it may still find no browser). */
export async function openBrowser(url: string, removeAfterMs = 60_000): Promise<boolean> {
  const cmd = opener();
  const perm = await Deno.permissions.query({ name: "run", command: cmd });
  if (perm.state !== "granted") return false;
  const file = await Deno.makeTempFile({ prefix: "chat-gui-", suffix: ".html" });
  try {
    await Deno.chmod(file, 0o600).catch(() => {});
    await Deno.writeTextFile(file, launcherHtml(url));
    const child = new Deno.Command(cmd, {
      args: [file],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Some openers wait for the browser to exit: not waited for.
    child.status.catch(() => {});
    child.unref();
    const t = setTimeout(() => Deno.remove(file).catch(() => {}), removeAfterMs);
    Deno.unrefTimer(t);
    return true;
  } catch {
    await Deno.remove(file).catch(() => {});
    return false;
  }
}
