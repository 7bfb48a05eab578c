/**
 * `deno bench`: what one event costs the full-screen client: a line added to a full window
 * (the oldest dropped), and a whole frame of a full window composed at 120 × 40.
 * @module
 */

import { composeFrame, statusLine, viewport } from "../client/screen.ts";
import { SCROLLBACK_LINES } from "../client/scrollback.ts";
import { Level, WindowList } from "../client/windows.ts";

const wl = new WindowList();
wl.syncRooms(["#lobby", "#dev", "#ops"]);
const lobby = wl.room("#lobby")!;
wl.focus(lobby);
const long = "a message long enough to wrap once or twice at a hundred and twenty columns, ".repeat(
  3,
);
let seq = 0;
for (let i = 0; i < SCROLLBACK_LINES; i++) {
  seq++;
  wl.add(lobby, { text: `12:00 bob: ${long}${seq}`, ts: seq, indent: 11, seq }, Level.Message);
}
const dev = wl.room("#dev")!;

Deno.bench("screen: a message into a full background window", { group: "screen" }, () => {
  seq++;
  wl.add(dev, { text: `12:00 bob: line ${seq}`, ts: seq, indent: 11, id: `m${seq}`, seq }, 2);
});

Deno.bench("screen: a frame of a full window at 120 × 40", { group: "screen" }, () => {
  const vp = viewport(lobby, 120, 38, 0, { color: true });
  const status = statusLine(wl.infos(), 120, "[alice]", "", true);
  composeFrame({
    width: 120,
    height: 40,
    content: vp.rows,
    status,
    input: { rows: ["#lobby> hello"], cursorRow: 0, cursorCol: 13 },
  });
});

Deno.bench("screen: a frame scrolled 1,000 rows up at 120 × 40", { group: "screen" }, () => {
  const vp = viewport(lobby, 120, 38, 1_000, { color: true });
  composeFrame({
    width: 120,
    height: 40,
    content: vp.rows,
    status: "",
    input: { rows: ["#lobby>"], cursorRow: 0, cursorCol: 8 },
  });
});

let width = 120;
Deno.bench("screen: a frame after a resize (every line shown wrapped again)", {
  group: "screen",
}, () => {
  width = width === 120 ? 119 : 120;
  viewport(lobby, width, 38, 0, { color: true });
});
