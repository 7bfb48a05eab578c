/**
 * Names and who owns them: claiming a name at login or with `/nick` (stored before the answer),
 * and renaming every session of a name together.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import { checkName } from "../shared/names.ts";
import { nameBanned } from "./ban_match.ts";
import type { HubCore } from "./hub_core.ts";
import { roomsOf, type Session } from "./sessions.ts";

/**
 * Claims `name` for `fp` (stored before it returns); the error to answer with when the name
 * belongs to another identity or `fp` already owns as many names as it may. A returning
 * owner costs one lookup.
 */
export function claimName(
  core: HubCore,
  key: string,
  name: string,
  fp: string,
): ProtocolError | undefined {
  const { store, limits } = core.o;
  const owner = store.ownerOf(key);
  const other = () =>
    new ProtocolError(
      "name_owned",
      `The name ${name} belongs to another identity. Please choose another name.`,
    );
  if (owner !== undefined) {
    if (owner.fingerprint !== fp) return other();
    touchName(core, key, owner.lastUsed);
    return undefined;
  }
  if (store.namesOwnedBy(fp) >= limits.namesPerIdentity) {
    return new ProtocolError(
      "name_limit",
      `Your identity already owns ${limits.namesPerIdentity} names, the most a server keeps ` +
        "for one identity. Use one of them.",
    );
  }
  if (store.claimName(key, name, fp) === "owned_by_other") return other();
  core.o.log?.("info", "name claimed", { name, fingerprint: fp });
  return undefined;
}

/** Notes that the name `key` is used (so it does not expire); a failed write does not matter. */
function touchName(core: HubCore, key: string, lastUsed: number): void {
  try {
    core.o.store.upkeep.touchName(key, lastUsed);
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
}

/** Renames `s` and its siblings to `name` (same rules as login) and announces it. */
export function nick(core: HubCore, s: Session, name: string): void {
  const o = core.o;
  const check = checkName(name, o.blacklist());
  if (!check.ok) throw new ProtocolError(check.code, check.reason);
  const key = check.key;
  if (nameBanned(o.store.bans(), key)) {
    throw new ProtocolError("banned", `The name ${name} is banned.`);
  }
  const byName = core.sessions.byName;
  const live = byName.get(key);
  if (live !== undefined && live.key !== s.key) {
    throw new ProtocolError("name_taken", `${live.name} is in use right now.`);
  }
  const refused = claimName(core, key, name, s.fingerprint);
  if (refused !== undefined) throw refused;
  const old = s.name;
  if (name === old) return;
  // Every session under the old name is renamed together: presence stays one name.
  const sibs = core.sessions.siblings(s);
  const oldKey = s.key;
  byName.delete(s.key);
  for (const x of sibs) {
    x.name = name;
    x.key = key;
  }
  byName.set(key, s);
  core.rooms.renamed(oldKey, key, roomsOf(sibs));
  core.touch(key);
  core.touch(oldKey);
  core.fanout.notice("nick", { name, old }, roomsOf(sibs), () => undefined);
}

/** Gives up `name`, owned by `s`'s identity and used by none of its sessions. */
export function releaseName(core: HubCore, s: Session, name: string, key: string): void {
  for (const mine of core.sessions.byFp.get(s.fingerprint) ?? []) {
    if (mine.key === key) {
      throw new ProtocolError(
        "name_in_use",
        `You are using ${name}; switch to another name with /nick first.`,
      );
    }
  }
  if (!core.o.store.releaseName(key, s.fingerprint)) {
    throw new ProtocolError("not_owner", `You do not own the name ${name}.`);
  }
}
