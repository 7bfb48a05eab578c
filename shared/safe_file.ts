/**
 * Opening files named on the command line safely: logs are appended to a private file that is
 * never reached through a symbolic link, and small configuration files are read only when they
 * are regular files within a size bound (a FIFO or device would block or never end).
 * @module
 */

import { concat } from "./encoding.ts";

/** An append-only file opened by {@linkcode openPrivateAppend}. */
export interface PrivateAppend {
  /** The open file, positioned at its end for every write. */
  file: Deno.FsFile;
  /** Its size when opened, in bytes. */
  size: number;
  /** Set when an existing file is readable or writable by group or others. */
  warning?: string;
}

/**
 * Opens `path` for appending. A missing file is created exclusively with mode 0600 (an
 * exclusive create never follows a symbolic link); an existing one must be a regular file that
 * is not a symbolic link, and is checked again after opening (same device and inode), so a link
 * swapped in meanwhile is refused too. An existing file readable by others is opened with a
 * `warning`. Throws TypeError for a symbolic link or anything but a regular file.
 */
export async function openPrivateAppend(path: string): Promise<PrivateAppend> {
  if (typeof path !== "string" || path === "") throw new TypeError("path must be a file name");
  for (let attempt = 0;; attempt++) {
    let before: Deno.FileInfo | undefined;
    try {
      before = await Deno.lstat(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (before === undefined) {
      try {
        const file = await Deno.open(path, {
          write: true,
          append: true,
          createNew: true,
          mode: 0o600,
        });
        return { file, size: 0 };
      } catch (e) {
        // Created by someone else in between: look again (once).
        if (e instanceof Deno.errors.AlreadyExists && attempt === 0) continue;
        throw e;
      }
    }
    if (before.isSymlink) {
      throw new TypeError(`${path} is a symbolic link; refusing to write to it`);
    }
    if (!before.isFile) throw new TypeError(`${path} is not a regular file`);
    const file = await Deno.open(path, { write: true, append: true });
    try {
      const after = await file.stat();
      if (!after.isFile || after.ino !== before.ino || after.dev !== before.dev) {
        throw new TypeError(`${path} was replaced while it was opened; refusing to write to it`);
      }
      const warning = modeWarning(path, after);
      return warning === undefined
        ? { file, size: after.size }
        : { file, size: after.size, warning };
    } catch (e) {
      file.close();
      throw e;
    }
  }
}

/**
 * Reads the regular file `path` whole. TypeError when it is not a regular file (checked before
 * opening, so a FIFO cannot block, and again on the open file); RangeError when it is larger
 * than `max` bytes (checked before reading, and while reading for a file that grows). `check`,
 * when given, sees both the path's and the open file's information first and may throw to
 * refuse the file (a key file that others can read, say).
 */
export async function readRegularFile(
  path: string,
  max: number,
  check?: (info: Deno.FileInfo) => void,
): Promise<Uint8Array> {
  const info = await Deno.stat(path);
  check?.(info);
  if (!info.isFile) throw new TypeError(`${path} is not a regular file`);
  if (info.size > max) throw new RangeError(`${path} is larger than ${max} bytes`);
  const file = await Deno.open(path, { read: true });
  try {
    const opened = await file.stat();
    check?.(opened);
    if (!opened.isFile) throw new TypeError(`${path} is not a regular file`);
    if (opened.size > max) throw new RangeError(`${path} is larger than ${max} bytes`);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const chunk = new Uint8Array(64 * 1024);
      const got = await file.read(chunk);
      if (got === null) break;
      total += got;
      if (total > max) throw new RangeError(`${path} is larger than ${max} bytes`);
      chunks.push(chunk.subarray(0, got));
    }
    return concat(...chunks);
  } finally {
    file.close();
  }
}

/**
 * A warning when `path` (a file or directory; symbolic links followed) is accessible by group
 * or others, or undefined (also when it does not exist).
 */
export async function accessWarning(path: string): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  return modeWarning(path, info);
}

function modeWarning(path: string, info: Deno.FileInfo): string | undefined {
  const mode = info.mode ?? 0;
  if (Deno.build.os === "windows" || (mode & 0o077) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(3, "0");
  return `${path} is accessible by others (mode ${octal}); chmod ${
    info.isDirectory ? 700 : 600
  } it`;
}
