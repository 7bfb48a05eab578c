/**
 * `chat bench --private`: the sender side of a private room for load generation. Each sender
 * has a real sender key; before the run it gives it to every member (RSA-OAEP wrap + signature,
 * an `skey` request each), and each message is a real sealed line (ratchet step, AES-256-GCM,
 * Ed25519 signature). The bench identities share one DM key whose private half was never kept,
 * so receivers count deliveries by message id without opening them: the figures are the
 * server's and the network's, the receivers' opening cost is not in them.
 * @module
 */

import { fingerprint, type KeyObject } from "../shared/crypto.ts";
import { toBase64 } from "../shared/encoding.ts";
import { newId } from "../shared/messages.ts";
import { sealKey, sealLine, SenderChain } from "../shared/room_e2e.ts";
import type { BenchIdentity, LoadClient } from "./load_client.ts";

/** One sender's sender key for the room. */
export class PrivateSender {
  readonly #id: BenchIdentity;
  readonly #fp: string;
  readonly #chain = new SenderChain();
  readonly #room: string;

  /** A fresh sender key of `id` for `room`. */
  constructor(id: BenchIdentity, room: string) {
    this.#id = id;
    this.#fp = fingerprint(id.sigPublic);
    this.#room = room;
  }

  /**
   * Gives the key, at its current index, to each of `members` (name and DM key SPKI) with one
   * `skey` request each, marked automatic, in one record per 8.
   */
  async distribute(
    client: LoadClient,
    members: { name: string; fingerprint: string; kemPub: Uint8Array }[],
  ): Promise<void> {
    const st = this.#chain.state();
    let batch: unknown[] = [];
    for (const m of members) {
      const id = newId();
      const env = await sealKey({
        header: {
          v: 1,
          room: this.#room,
          from: this.#id.name,
          from_fp: this.#fp,
          to: m.name,
          to_fp: m.fingerprint,
          kid: st.kid,
          n: st.n,
          id,
        },
        ck: st.ck,
        kemPublic: m.kemPub,
        sigPrivate: this.#id.sigPrivate as KeyObject,
      });
      batch.push({
        t: "cmd",
        id: newId(),
        name: "skey",
        args: [this.#room, m.name, id, toBase64(env)],
        auto: true,
      });
      if (batch.length === 8) {
        client.sendRecord(batch);
        batch = [];
      }
    }
    if (batch.length > 0) client.sendRecord(batch);
    st.ck.fill(0);
  }

  /** Seals `text` as the next line and sends it; returns the request id. */
  say(client: LoadClient, text: string): string {
    const id = newId();
    const sealed = sealLine({
      room: this.#room,
      from: this.#id.name,
      fromFp: this.#fp,
      id,
      text,
      chain: this.#chain,
      sigPrivate: this.#id.sigPrivate as KeyObject,
    });
    client.sendRecord([{ t: "say", id, room: this.#room, sealed: toBase64(sealed) }]);
    return id;
  }
}
