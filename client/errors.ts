/**
 * Why a client stopped: each maps to its own exit code in main.ts.
 * @module
 */

/** `s` as one shell word: as is when it is plainly safe, else in single quotes. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_.,:\/@=+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The server's host key differs from the pinned one (exit code 3). The message ends with a
 * command that can be pasted as is: the same client (`target`, default `hostPort`: the whole
 * address list when there is one), trusting exactly the offered key (which replaces the pin),
 * with `hintArgs` (e.g. `--home DIR`) repeated. `pinnedFor` names another address of the list
 * when the key that differs was pinned for that one.
 */
export class HostKeyChangedError extends Error {
  /** Creates the error with both fingerprints. */
  constructor(
    readonly hostPort: string,
    readonly pinned: string,
    readonly offered: string,
    hintArgs: readonly string[] = [],
    opts: { target?: string; pinnedFor?: string } = {},
  ) {
    const pinnedFor = opts.pinnedFor === undefined
      ? ""
      : ` (for ${opts.pinnedFor}, in the same address list: all must present one key)`;
    super(
      `WARNING: THE SERVER'S KEY HAS CHANGED for ${hostPort}\n` +
        `  pinned:  ${pinned}${pinnedFor}\n  offered: ${offered}\n` +
        `Someone may be intercepting this connection, or the server's key was replaced.\n` +
        `If you are sure the new key is right, connect trusting exactly it (this replaces the pin):\n` +
        `  ${
          ["chat", "client", opts.target ?? hostPort, "--fingerprint", offered, ...hintArgs]
            .map(shellWord).join(" ")
        }`,
    );
    this.name = "HostKeyChangedError";
  }
}

/** The server refused us (Refusal frame, ban, or an untrusted key): exit code 4. */
export class RefusedError extends Error {
  /** Creates the error with the refusal code. */
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "RefusedError";
  }
}

/** The server could not be reached: exit code 5. */
export class ConnectError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
  }
}

/** The message of an error, or the thrown value as a string. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
