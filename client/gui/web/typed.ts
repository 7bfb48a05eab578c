/**
 * What a line typed on the page does, given the conversation it was typed in: the window commands
 * of the terminal (`/win`, `/query`, `/close`) act on the page's conversations; in a private
 * conversation plain text and `/me` go to the other person; everything else goes to the
 * application as typed. Pure.
 * @module
 */

import { parseInput } from "../../input.ts";

/** The outcome of a typed line. */
export type Typed =
  | { kind: "send"; text: string }
  | { kind: "open"; conv: string }
  | { kind: "close"; conv: string }
  | { kind: "error"; text: string }
  | { kind: "none" };

/** What `text` typed in conversation `conv` (`#room`, `@name`, or "") does; `order` lists them. */
export function typed(text: string, conv: string, order: readonly string[], me: string): Typed {
  const peer = conv.startsWith("@") ? conv.slice(1) : undefined;
  const a = parseInput(text, conv.startsWith("#") ? conv : "", true);
  switch (a.kind) {
    case "none":
      return { kind: "none" };
    case "win": {
      const n = /^\d{1,2}$/.test(a.spec) ? Number(a.spec) : NaN;
      const want = Number.isInteger(n)
        ? order[n - 1]
        : order.find((c) => c.toLowerCase() === a.spec.toLowerCase()) ??
          order.find((c) => c.toLowerCase() === `@${a.spec.toLowerCase()}`);
      return want === undefined
        ? { kind: "error", text: `there is no conversation ${a.spec}` }
        : { kind: "open", conv: want };
    }
    case "query":
      return { kind: "open", conv: `@${a.name}` };
    case "close":
      if (conv.startsWith("#")) return { kind: "send", text: `/leave ${conv}` };
      return conv === "" ? { kind: "none" } : { kind: "close", conv };
    case "say":
      if (peer === undefined) return { kind: "send", text };
      return { kind: "send", text: `/msg ${peer} ${a.me ? `* ${me} ${a.text}` : a.text}` };
    default:
      return { kind: "send", text };
  }
}
