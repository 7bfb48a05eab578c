/**
 * What a line typed on the page does, given the conversation it was typed in: the window commands
 * of the terminal (`/win`, `/query`, `/close`) act on the page's conversations; in a private
 * conversation plain text and `/me` go to the other person; everything else goes to the
 * application as typed. Pure.
 * @module
 */

/** The outcome of a typed line. */
export type Typed =
  | { kind: "send"; text: string }
  | { kind: "open"; conv: string }
  | { kind: "close"; conv: string }
  | { kind: "error"; text: string }
  | { kind: "none" };

/** What `text` typed in conversation `conv` (`#room`, `@name`, or "") does; `order` lists them. */
export function typed(text: string, conv: string, order: readonly string[], me: string): Typed {
  const trimmed = text.trim();
  if (trimmed === "") return { kind: "none" };
  const m = /^\/(win|window|query|close|me)(?:\s+([\s\S]*))?$/i.exec(trimmed);
  const cmd = m?.[1].toLowerCase();
  const arg = (m?.[2] ?? "").trim();
  const peer = conv.startsWith("@") ? conv.slice(1) : undefined;
  if (cmd === "win" || cmd === "window") {
    if (!/^\S+$/.test(arg)) return { kind: "error", text: "usage: /win N|#room|NAME" };
    const want = /^\d{1,2}$/.test(arg)
      ? order[Number(arg) - 1]
      : order.find((c) => c.toLowerCase() === arg.toLowerCase()) ??
        order.find((c) => c.toLowerCase() === `@${arg.toLowerCase()}`);
    return want === undefined
      ? { kind: "error", text: `there is no conversation ${arg}` }
      : { kind: "open", conv: want };
  }
  if (cmd === "query") {
    return /^[^\s#@]\S{0,63}$/.test(arg)
      ? { kind: "open", conv: `@${arg}` }
      : { kind: "error", text: "usage: /query NAME" };
  }
  if (cmd === "close") {
    if (arg !== "") return { kind: "error", text: "usage: /close" };
    if (conv.startsWith("#")) return { kind: "send", text: `/leave ${conv}` };
    return conv === "" ? { kind: "none" } : { kind: "close", conv };
  }
  if (peer === undefined) return { kind: "send", text };
  // In a private conversation, text (and /me, and //text) goes to the other person.
  if (cmd === "me" && arg !== "") return { kind: "send", text: `/msg ${peer} * ${me} ${arg}` };
  if (trimmed.startsWith("//")) return { kind: "send", text: `/msg ${peer} ${trimmed.slice(1)}` };
  if (trimmed.startsWith("/")) return { kind: "send", text };
  return { kind: "send", text: `/msg ${peer} ${text.trimEnd()}` };
}
