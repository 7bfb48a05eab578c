/**
 * The user's identity on disk: loaded from `${home}/identity`, created there on first run.
 * @module
 */

import {
  createIdentity,
  type Identity,
  loadIdentityIfExists,
  saveIdentity,
} from "../shared/keys.ts";

/** File name of the identity inside the configuration home. */
export const IDENTITY_FILE = "identity";

/**
 * Loads the identity from `${home}/identity`, or creates it (mode 0600) when the file does not
 * exist, calling `notice` once with a one-line message before the slow key generation. An
 * existing file is never replaced: a bad one throws `KeyFileError`. The returned private keys are
 * non-extractable.
 */
export async function loadOrCreateIdentity(
  home: string,
  notice: (line: string) => void,
): Promise<{ identity: Identity; created: boolean }> {
  const path = `${home.replace(/[\\/]+$/, "")}/${IDENTITY_FILE}`;
  const existing = await loadIdentityIfExists(path);
  if (existing !== null) return { identity: existing, created: false };
  notice(`creating your identity (Ed25519 + RSA-OAEP-3072) in ${path}…`);
  const fresh = await createIdentity();
  let created = true;
  try {
    await saveIdentity(path, fresh);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    created = false; // another process created it meanwhile: use that one
  }
  const identity = await loadIdentityIfExists(path);
  if (identity === null) throw new Deno.errors.NotFound(`${path} vanished after it was created`);
  return { identity, created };
}
