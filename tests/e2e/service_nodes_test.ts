/**
 * End to end with a real server: `/service` names the node (`--node NAME`, or the host name and
 * port by default) and lists the one node of a single server; a bad `--node` is a usage error.
 * (Several nodes are shown by the cluster tests.)
 */

import assert from "node:assert/strict";
import { saveIdentity } from "../../shared/keys.ts";
import { defaultNodeName } from "../../server/nodes.ts";
import { identities } from "../adversarial/helpers.ts";
import { events, MAIN, RUN_FLAGS, startClient, startServer, until } from "../support/procs.ts";

async function home(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-home-" });
  await Deno.chmod(dir, 0o700);
  await saveIdentity(`${dir}/identity`, (await identities())[0]);
  return dir;
}

/** The text of the `/service` reply a client gets from a server started with `args`. */
async function serviceText(args: string[]): Promise<{ text: string; port: number }> {
  const server = await startServer({ args });
  const c = startClient(server.port, ["--json", "--name", "alice", "--accept-new"], await home());
  try {
    await until(() => events(c).some((e) => e.t === "welcome"), "welcome", [c], 20_000);
    await c.send("/service");
    const reply = () => events(c).find((e) => e.t === "reply");
    await until(() => reply() !== undefined, "the /service reply", [c]);
    return { text: reply()!.text as string, port: server.port };
  } finally {
    await c.kill();
    await server.stop();
  }
}

Deno.test("e2e: /service names the node given with --node, one node for a single server", async () => {
  const { text } = await serviceText(["--node", "alpha-1"]);
  assert.match(text, /^Node: alpha-1 \(a single server\)$/m);
  assert.match(text, /^Nodes: 1, 1 user — alpha-1 1 user \(this one\)$/m);
});

Deno.test("e2e: without --node the node is HOSTNAME:PORT", async () => {
  const { text, port } = await serviceText([]);
  const name = defaultNodeName(Deno.hostname(), port);
  assert.ok(text.includes(`Node: ${name} (a single server)`), text);
});

Deno.test("e2e: a bad --node is a usage error", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, "server", "--port", "0", "--node", "a b"],
    stdin: "null",
  }).output();
  assert.equal(r.code, 2);
  assert.match(new TextDecoder().decode(r.stderr), /bad --node "a b"/);
});
