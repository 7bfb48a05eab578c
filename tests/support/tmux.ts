/**
 * Test support: a tmux server on its own socket with one pane, for driving programs in a real
 * terminal (send-keys, capture-pane).
 * @module
 */

import { MAIN, RUN_FLAGS } from "./procs.ts";

/** True when a working `tmux` is on the PATH. */
export function hasTmux(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** One tmux server on its own socket, with one pane named "t". */
export class Pane {
  readonly sock = `chat-test-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;

  /** Opens the pane "t": a `cols`×`rows` session running the shell command line `command`. */
  async open(command: string, cols = 100, rows = 30): Promise<void> {
    await this.tmux(
      "new-session",
      "-d",
      "-s",
      "t",
      "-x",
      String(cols),
      "-y",
      String(rows),
      command,
    );
  }

  /** Runs one tmux command on this socket; returns its stdout. */
  async tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.sock, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  /** The visible text, trailing blank lines removed. */
  async text(): Promise<string> {
    return (await this.tmux("capture-pane", "-p", "-t", "t")).replace(/\s+$/, "");
  }

  /** Expands a tmux format for the pane (e.g. "#{pane_title}"). */
  async display(format: string): Promise<string> {
    return (await this.tmux("display-message", "-p", "-t", "t", format)).trim();
  }

  /** Types keys one call at a time (a fast burst would look like a paste to line editing). */
  async keys(...keys: string[]): Promise<void> {
    for (const k of keys) {
      await this.tmux("send-keys", "-t", "t", k);
      await new Promise((r) => setTimeout(r, 60));
    }
  }

  /** Types `text` literally, in one burst (no key names). */
  async literal(text: string): Promise<void> {
    await this.tmux("send-keys", "-t", "t", "-l", "--", text);
    await new Promise((r) => setTimeout(r, 60));
  }

  /**
   * Pastes `text` as a terminal does: wrapped in bracketed-paste markers when the program asked
   * for them (`ESC[?2004h`), line feeds sent as carriage returns.
   */
  async paste(text: string): Promise<void> {
    await this.tmux("set-buffer", "-b", "chat-test", "--", text);
    await this.tmux("paste-buffer", "-p", "-d", "-b", "chat-test", "-t", "t");
    await new Promise((r) => setTimeout(r, 60));
  }

  /** The cursor's column and row in the pane. */
  async cursor(): Promise<{ x: number; y: number }> {
    const [x, y] = (await this.display("#{cursor_x} #{cursor_y}")).split(" ").map(Number);
    return { x, y };
  }

  /** Waits until the pane text satisfies `pred`; returns that text. */
  async until(pred: (text: string) => boolean, what: string, ms = 20_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const t = await this.text();
      if (pred(t)) return t;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; pane:\n${t}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * The pane text of the full-screen client without its status line (the row above the input
 * row, starting with `[name]`), so that what was shown last ends right above the input.
 */
export function withoutStatus(text: string): string {
  return text.replace(/\n\[[^\n]*\n(?=[^\n]*$)/, "\n");
}

/** The status line (the row above the input row) and the input row of a pane text. */
export function bottom(text: string): { status: string; input: string } {
  const rows = text.split("\n");
  return { status: rows.at(-2) ?? "", input: rows.at(-1) ?? "" };
}

/** `chat ARGS…`, run as the tasks run it, as a shell command line (every word quoted). */
export function chatLine(...args: string[]): string {
  return [Deno.execPath(), ...RUN_FLAGS, MAIN, ...args].map(shellQuote).join(" ");
}

/**
 * `chat client 127.0.0.1:PORT --name NAME --accept-new --home HOME EXTRA…` as a shell command
 * line.
 */
export function clientLine(port: number, name: string, home: string, extra: string[] = []): string {
  return chatLine(
    "client",
    `127.0.0.1:${port}`,
    "--name",
    name,
    "--accept-new",
    "--home",
    home,
    ...extra,
  );
}

/** Quotes `s` for a POSIX shell command line. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
