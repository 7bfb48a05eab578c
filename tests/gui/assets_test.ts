/**
 * client/gui/assets.ts is what client/gui/build.ts makes of client/gui/web/ now.
 */
import assert from "node:assert/strict";
import { buildAssets } from "../../client/gui/build.ts";

Deno.test("gui: assets.ts is up to date with client/gui/web (deno task gui:build)", async () => {
  const fresh = await buildAssets();
  const committed = await Deno.readTextFile(new URL("../../client/gui/assets.ts", import.meta.url));
  assert.ok(fresh === committed, "client/gui/assets.ts is stale: run deno task gui:build");
});
