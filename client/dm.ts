/**
 * The client's private-message service (PROTOCOL.md §6–7): fetches and checks peer keys with the
 * `keys` command, pins them in `known_users` when the user acts (`/msg`, `/verify`, `/trust`),
 * refuses to send to a changed key until `/trust`, seals and sends, opens incoming envelopes in
 * the protocol's order (senders' keys looked up within the bounds of `SenderKeys`, not pinned),
 * and computes the safety number for `/verify`.
 * @module
 */

import { concat, fromBase64, toBase64, utf8 } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import { fingerprint, isFingerprint, randomBytes, sha256 } from "../shared/crypto.ts";
import { DM_ENVELOPE_MAX, type DmHeader, openDm, ReplayCache, sealDm } from "../shared/e2e.ts";
import { type Identity, verifyKem } from "../shared/keys.ts";
import type { AckMessage, DmDelivery, ErrorMessage, ReplyMessage } from "../shared/messages.ts";
import { newId } from "../shared/messages.ts";
import { nameKey } from "../shared/names.ts";
import { NAME_PATTERN } from "../shared/names.ts";
import { type SenderKeyLimits, SenderKeys } from "./sender_keys.ts";
import { errorText } from "./errors.ts";

/** What the service needs from a connection. */
export interface DmTransport {
  /** The user's current name on the server. */
  readonly name: string;
  /** Runs a server command (here only `keys`); `auto` when the user did not ask for it. */
  command(name: string, args: string[], auto?: boolean): Promise<ReplyMessage | ErrorMessage>;
  /** Sends an envelope; settles with the server's `ack` or an error. */
  sendDm(to: string, envelope: string, id: string): Promise<AckMessage | ErrorMessage>;
}

/** The pin store the service uses (see `KnownUsers`). */
export interface PinStore {
  /** The pinned fingerprint of `name` on `hostPort`, or `undefined`. */
  lookup(hostPort: string, name: string): string | undefined;
  /** Pins on first use; `ProtocolError("user_key_changed")` if a different pin exists. */
  pin(hostPort: string, name: string, fp: string): Promise<void>;
  /** Replaces the pin with a verified one (`/trust`). */
  trust(hostPort: string, name: string, fp: string): Promise<void>;
  /** True when the pin was accepted with `/trust`. */
  isVerified(hostPort: string, name: string): boolean;
}

/** Settings for {@link DmService}. */
export interface DmServiceOptions {
  /** The connection. */
  transport: DmTransport;
  /** The user's identity. */
  identity: Pick<Identity, "sigPrivate" | "kemPrivate" | "fingerprint">;
  /** Pinned peer keys. */
  knownUsers: PinStore;
  /** The server, as `host:port`, the pins belong to. */
  hostPort: string;
  /** Clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Random source (default WebCrypto). */
  random?: (n: number) => Uint8Array;
  /**
   * The replay protection, persisted (client/dm_seen.ts); default: a fresh one in memory for
   * this session only.
   */
  seen?: { readonly cache: ReplayCache; keepAtLeast(ms: number): void };
  /** Bounds of the automatic lookups of senders' keys (see `SENDER_KEY_LIMITS`). */
  senderKeys?: Partial<SenderKeyLimits>;
}

/** What an application passes to set private messages up: everything but the connection. */
export type DmSetup = Omit<DmServiceOptions, "transport">;

/** A peer's keys as served by the `keys` command, after every check. */
export interface PeerKeys {
  /** The name as the server spells it. */
  name: string;
  /** Identity fingerprint, equal to `fp(sigPub)`. */
  fingerprint: string;
  /** Raw Ed25519 public key. */
  sigPub: Uint8Array;
  /** RSA-OAEP public key, SPKI DER, certified by `sigPub`. */
  kemPub: Uint8Array;
}

/** Outcome of {@link DmService.send}. */
export type SendResult =
  | { ok: true; id: string; ts: number; to: string; text: string; queued?: boolean }
  | { ok: false; to: string; text: string; reason: string };

/**
 * Outcome of {@link DmService.open}: the text, or only that it failed; `duplicate` when it is a
 * correctly signed message already accepted (a re-delivery: nothing to show).
 */
export type OpenResult =
  | { ok: true; id: string; ts: number; from: string; text: string }
  | { ok: false; from: string; duplicate?: true };

/** Outcome of `/trust` and `/verify`: a line to show, and whether it is an error. */
export interface CommandResult {
  /** False when the text reports an error. */
  ok: boolean;
  /** What to show. */
  text: string;
}

const KEM_PUB_MAX = 4096;
/** Longest base64 text that can decode to at most {@link DM_ENVELOPE_MAX} bytes. */
const ENVELOPE_B64_MAX = Math.ceil(DM_ENVELOPE_MAX / 3) * 4;
/** Domain-separation prefix of the safety number. */
const SAFETY_CONTEXT = utf8.encode("chat/1 safety\0");

/**
 * The safety number of two identity fingerprints (PROTOCOL.md §6): the SHA-256 digest of
 * "chat/1 safety\0" ‖ the two fingerprints' UTF-8 bytes in ascending byte order, read as a
 * big-endian 256-bit integer N; the 60 digits are N mod 10^60 in decimal, zero-padded on the
 * left, shown as 12 groups of 5 separated by spaces. The same for both sides.
 */
export async function safetyNumber(fpA: string, fpB: string): Promise<string> {
  const [lo, hi] = fpA < fpB ? [fpA, fpB] : [fpB, fpA];
  const digest = await sha256(concat(SAFETY_CONTEXT, utf8.encode(lo), utf8.encode(hi)));
  let n = 0n;
  for (const b of digest) n = (n << 8n) | BigInt(b);
  const digits = (n % 10n ** 60n).toString().padStart(60, "0");
  return digits.match(/\d{5}/g)!.join(" ");
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== "string") throw new ProtocolError("bad_keys", `keys reply lacks ${k}`);
  return v;
}

function b64(o: Record<string, unknown>, k: string, min: number, max: number): Uint8Array {
  const s = str(o, k);
  if (s.length > Math.ceil(max / 3) * 4) throw new ProtocolError("bad_keys", `${k} too long`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(s);
  } catch (e) {
    throw new ProtocolError("bad_keys", `${k} is not base64`, { cause: e });
  }
  if (bytes.length < min || bytes.length > max) {
    throw new ProtocolError("bad_keys", `${k} has the wrong length`);
  }
  return bytes;
}

/**
 * Checks a `keys` reply's data for `name`: the name matches, `kem_sig` verifies against
 * `sig_pub`, and `fingerprint` equals `fp(sig_pub)`. `ProtocolError("bad_keys")` otherwise.
 */
export async function checkPeerKeys(name: string, data: unknown): Promise<PeerKeys> {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ProtocolError("bad_keys", "keys reply has no data");
  }
  const o = data as Record<string, unknown>;
  const served = str(o, "name");
  if (!NAME_PATTERN.test(served) || nameKey(served) !== nameKey(name)) {
    throw new ProtocolError("bad_keys", "keys reply is for another name");
  }
  const fp = str(o, "fingerprint");
  const sigPub = b64(o, "sig_pub", 32, 32);
  const kemPub = b64(o, "kem_pub", 1, KEM_PUB_MAX);
  const kemSig = b64(o, "kem_sig", 64, 64);
  if (!isFingerprint(fp) || fp !== await fingerprint(sigPub)) {
    throw new ProtocolError("bad_keys", "the served fingerprint does not match the signing key");
  }
  if (!(await verifyKem(sigPub, kemPub, kemSig))) {
    throw new ProtocolError("bad_keys", "the encryption key is not signed by the identity");
  }
  return { name: served, fingerprint: fp, sigPub, kemPub };
}

/** The private-message service of one session. */
export class DmService {
  readonly #t: DmTransport;
  readonly #id: DmServiceOptions["identity"];
  readonly #pins: PinStore;
  readonly #hp: string;
  readonly #now: () => number;
  readonly #random: (n: number) => Uint8Array;
  readonly #replay: ReplayCache;
  /** Checked keys of peers, and the bounded automatic lookups of senders' keys. */
  readonly #senders: SenderKeys<PeerKeys>;
  /** Serialises changes of the pin file. */
  #pinLock: Promise<unknown> = Promise.resolve();

  /** A service over `opts.transport`. */
  constructor(opts: DmServiceOptions) {
    this.#t = opts.transport;
    this.#id = opts.identity;
    this.#pins = opts.knownUsers;
    this.#hp = opts.hostPort;
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? randomBytes;
    this.#replay = opts.seen?.cache ?? new ReplayCache();
    this.#senders = new SenderKeys((name) => this.#fetchChecked(name, true), {
      now: this.#now,
      limits: opts.senderKeys,
      // The client's own automatic budget or a lost answer says nothing about the sender.
      transient: (e) =>
        e instanceof ProtocolError && (e.code === "rate_limited" || e.code === "timeout"),
    });
  }

  /** Automatic key lookups started for incoming messages so far. */
  get automaticLookups(): number {
    return this.#senders.lookups;
  }

  #locked<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#pinLock.then(f, f);
    this.#pinLock = run.catch(() => {});
    return run;
  }

  /** Fetches and checks `name`'s keys; `ProtocolError` with the server's code on refusal. */
  async fetchKeys(name: string): Promise<PeerKeys> {
    const keys = await this.#fetchChecked(name, false);
    this.#senders.remember(keys);
    return keys;
  }

  async #fetchChecked(name: string, auto: boolean): Promise<PeerKeys> {
    const r = await this.#t.command("keys", [name], auto);
    if (r.t === "error") throw new ProtocolError(r.code, r.message);
    return await checkPeerKeys(name, r.data);
  }

  /** Pins `keys` on first use; `ProtocolError("user_key_changed")` when another key is pinned. */
  #pinFirst(keys: PeerKeys): Promise<void> {
    return this.#locked(() => this.#pins.pin(this.#hp, keys.name, keys.fingerprint));
  }

  /**
   * Seals `text` for `to` and sends it. Fails (with a reason to show) for bad text, a user
   * without keys, a changed key (until `/trust`), a seal that is too large, or a server error
   * such as `offline`.
   */
  async send(to: string, text: string): Promise<SendResult> {
    const no = (reason: string): SendResult => ({ ok: false, to, text, reason });
    if (!NAME_PATTERN.test(to)) return no("not a user name");
    let keys: PeerKeys;
    try {
      keys = await this.fetchKeys(to);
    } catch (e) {
      return no(e instanceof ProtocolError ? `${e.code}: ${e.message}` : errorText(e));
    }
    try {
      await this.#pinFirst(keys);
    } catch (e) {
      if (e instanceof ProtocolError && e.code === "user_key_changed") {
        const old = this.#pins.lookup(this.#hp, keys.name);
        return no(
          `${keys.name}'s key has changed (pinned ${old}, offered ${keys.fingerprint}); ` +
            `check it with ${keys.name}, then /trust ${keys.name}`,
        );
      }
      return no(`cannot pin ${keys.name}'s key: ${errorText(e)}`);
    }
    const id = newId(this.#random);
    const ts = this.#now();
    const header: DmHeader = {
      v: 1,
      from: this.#t.name,
      from_fp: this.#id.fingerprint,
      to: keys.name,
      to_fp: keys.fingerprint,
      id,
      ts,
    };
    let env: Uint8Array;
    try {
      env = await sealDm({
        header,
        sigPrivate: this.#id.sigPrivate,
        kemPublic: keys.kemPub,
        text,
        random: this.#random,
      });
    } catch (e) {
      return no(errorText(e));
    }
    const r = await this.#t.sendDm(keys.name, toBase64(env), id);
    if (r.t === "error") return no(`${r.code}: ${r.message}`);
    return r.queued === true
      ? { ok: true, id, ts, to: keys.name, text, queued: true }
      : { ok: true, id, ts, to: keys.name, text };
  }

  /**
   * The signing key for `h` from the relayed sender `from`: the key the server serves (looked up
   * within the bounds of {@link SenderKeys}), which must match the header and, when there is one,
   * the pin. Receiving pins nothing: a stream of messages cannot grow `known_users`.
   */
  async #senderKey(d: DmDelivery, h: DmHeader): Promise<Uint8Array | null> {
    if (nameKey(h.from) !== nameKey(d.from) || h.id !== d.id) return null;
    const pinned = this.#pins.lookup(this.#hp, d.from);
    if (pinned !== undefined && h.from_fp !== pinned) return null;
    const keys = await this.#senders.get(d.from);
    if (keys === null || keys.fingerprint !== h.from_fp) return null;
    return keys.sigPub;
  }

  /** Opens a relayed private message; every failure is the same `{ ok: false, from }`. */
  async open(d: DmDelivery): Promise<OpenResult> {
    const failed: OpenResult = { ok: false, from: d.from };
    if (d.envelope.length > ENVELOPE_B64_MAX) return failed;
    try {
      const env = fromBase64(d.envelope);
      const { header, text } = await openDm(env, {
        ownFp: this.#id.fingerprint,
        kemPrivate: this.#id.kemPrivate,
        senderKey: (h) => this.#senderKey(d, h),
        replay: this.#replay,
        now: this.#now(),
      });
      return { ok: true, id: header.id, ts: d.ts, from: d.from, text };
    } catch (e) {
      if (e instanceof ProtocolError && e.code === "duplicate") {
        return { ok: false, from: d.from, duplicate: true };
      }
      return failed;
    }
  }

  /**
   * `/trust NAME`: pins the key the server now serves for `name` as verified, replacing an older
   * pin (a verified pin is never pruned from `known_users`).
   */
  async trust(name: string): Promise<CommandResult> {
    if (!NAME_PATTERN.test(name)) return { ok: false, text: "usage: /trust NAME" };
    let keys: PeerKeys;
    try {
      keys = await this.fetchKeys(name);
    } catch (e) {
      return { ok: false, text: `cannot get ${name}'s key: ${errorText(e)}` };
    }
    const old = this.#pins.lookup(this.#hp, keys.name);
    if (old === keys.fingerprint && this.#pins.isVerified(this.#hp, keys.name)) {
      return { ok: true, text: `${keys.name}'s key ${keys.fingerprint} is already trusted` };
    }
    try {
      await this.#locked(() => this.#pins.trust(this.#hp, keys.name, keys.fingerprint));
    } catch (e) {
      return { ok: false, text: `cannot pin ${keys.name}'s key: ${errorText(e)}` };
    }
    const was = old === undefined || old === keys.fingerprint ? "" : ` (was ${old})`;
    return { ok: true, text: `now trusting ${keys.name}'s key ${keys.fingerprint}${was}` };
  }

  /**
   * `/verify NAME`: the safety number of the user's identity and `name`'s pinned identity
   * (fetched and pinned first when there is no pin yet). When the server now serves another key
   * for `name`, that key's number is shown too, marked as not yet trusted, next to the pinned one.
   */
  async verify(name: string): Promise<CommandResult> {
    if (!NAME_PATTERN.test(name)) return { ok: false, text: "usage: /verify NAME" };
    let shown = name;
    let fp = this.#pins.lookup(this.#hp, name);
    let offered: string | undefined;
    if (fp === undefined) {
      try {
        const keys = await this.fetchKeys(name);
        await this.#pinFirst(keys);
        fp = keys.fingerprint;
        shown = keys.name;
      } catch (e) {
        return { ok: false, text: `cannot get ${name}'s key: ${errorText(e)}` };
      }
    } else {
      try {
        const keys = await this.fetchKeys(name);
        shown = keys.name;
        if (keys.fingerprint !== fp) offered = keys.fingerprint;
      } catch {
        // Not connected now (or no keys): the pinned key is all there is to compare.
      }
    }
    const number = async (key: string) => {
      const groups = (await safetyNumber(this.#id.fingerprint, key)).split(" ");
      return [`  ${groups.slice(0, 6).join(" ")}`, `  ${groups.slice(6).join(" ")}`];
    };
    if (offered !== undefined) {
      return {
        ok: true,
        text: [
          `${shown}'s key has changed since you pinned it.`,
          `safety number with ${shown}'s NEW key (${offered}), not yet trusted:`,
          ...await number(offered),
          `safety number with the pinned key (${fp}):`,
          ...await number(fp),
          `compare the new number with ${shown} over another channel; if it matches, ` +
          `/trust ${shown} pins the new key as verified`,
        ].join("\n"),
      };
    }
    return {
      ok: true,
      text: [
        `safety number with ${shown} (${fp}):`,
        ...await number(fp),
        `compare it with ${shown} over another channel; both of you see the same number`,
        ...(this.#pins.isVerified(this.#hp, shown)
          ? []
          : [`if it matches, /trust ${shown} marks the key as verified`]),
      ].join("\n"),
    };
  }
}
