/**
 * Where chat keeps its files: the client's configuration home and the server's state home.
 * Pure: the environment is passed in as a lookup function.
 * @module
 */

/** Reads one environment variable; `undefined` when unset. */
export type EnvLookup = (key: string) => string | undefined;

/** True for `/x`, `C:\x`, `C:/x` and `\\server\share`; relative XDG values are ignored. */
function isAbsolute(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

/** `env(key)` when it is set to an absolute path, else `undefined`. */
function absolute(env: EnvLookup, key: string): string | undefined {
  const value = env(key);
  return value !== undefined && value !== "" && isAbsolute(value) ? value : undefined;
}

/** Joins `base` and `rest` with `/`, dropping trailing separators of `base`. */
function join(base: string, rest: string): string {
  return base.replace(/[\\/]+$/, "") + "/" + rest;
}

/**
 * The client's configuration directory: `$XDG_CONFIG_HOME/chat`, else `$HOME/.config/chat`,
 * else `%APPDATA%/chat`. Relative or empty values are ignored; `TypeError` if none is usable.
 */
export function configHome(env: EnvLookup): string {
  const xdg = absolute(env, "XDG_CONFIG_HOME");
  if (xdg !== undefined) return join(xdg, "chat");
  const home = absolute(env, "HOME");
  if (home !== undefined) return join(home, ".config/chat");
  const appData = absolute(env, "APPDATA");
  if (appData !== undefined) return join(appData, "chat");
  throw new TypeError("cannot find a configuration directory: set HOME or XDG_CONFIG_HOME");
}

/**
 * The server's state directory: `$XDG_STATE_HOME/chat/server`, else
 * `$HOME/.local/state/chat/server`, else `%LOCALAPPDATA%/chat/server`. Relative or empty values
 * are ignored; `TypeError` if none is usable.
 */
export function stateHome(env: EnvLookup): string {
  const xdg = absolute(env, "XDG_STATE_HOME");
  if (xdg !== undefined) return join(xdg, "chat/server");
  const home = absolute(env, "HOME");
  if (home !== undefined) return join(home, ".local/state/chat/server");
  const localAppData = absolute(env, "LOCALAPPDATA");
  if (localAppData !== undefined) return join(localAppData, "chat/server");
  throw new TypeError("cannot find a state directory: set HOME or XDG_STATE_HOME");
}
