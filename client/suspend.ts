/**
 * Whether the interactive client may stop itself on Ctrl-Z as full-screen terminal programs do.
 * In raw mode the terminal sends no SIGTSTP, so the client stops itself (`SIGTSTP` to its own
 * process: Deno lets a program signal itself without the run permission, not its process group,
 * and does not let it read /proc/self to learn that group). That stops the shell's whole job when
 * a shell ran the client. Started by a task runner (`deno task`, `npx`, `npm run`: they set
 * `INIT_CWD`), the runner shares the job, stays in the foreground and does not stop, so the
 * terminal would hang: Ctrl-Z then only says why it does nothing. Where nobody watches the job (a
 * process group without a shell), the system ignores the signal and the view takes the terminal
 * back at once.
 * @module
 */

/** Where {@link suspendRefusal} looks. */
export interface SuspendHost {
  /** The operating system (`Deno.build.os`). */
  os: string;
  /** An environment variable, or undefined when unset. */
  env: (name: string) => string | undefined;
}

/** The host this process runs on. */
export function currentHost(): SuspendHost {
  return {
    os: Deno.build.os,
    env: (name) => {
      try {
        return Deno.env.get(name);
      } catch {
        return undefined;
      }
    },
  };
}

/** Why Ctrl-Z may not suspend the client here, or undefined when it may. */
export function suspendRefusal(host: SuspendHost = currentHost()): string | undefined {
  if (host.os === "windows") return "Ctrl-Z: suspending is not available on Windows";
  if (host.env("INIT_CWD") !== undefined) {
    return "Ctrl-Z: not suspended: the client was started by a task runner (deno task, npx), " +
      "which would keep the terminal; run `chat client` from the shell to suspend it";
  }
  return undefined;
}
