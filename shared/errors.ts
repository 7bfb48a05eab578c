/**
 * Errors by meaning for the chat/1 protocol.
 * @module
 */

/** A violation of the chat/1 protocol, or a refusal; `code` is the wire error code. */
export class ProtocolError extends Error {
  /** Machine-readable code, e.g. `frame_too_large`, `bad_record`, `name_taken`. */
  readonly code: string;
  /** Creates a protocol error with a wire `code` and a human `message`. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
    this.code = code;
  }
}
