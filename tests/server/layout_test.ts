/**
 * The source tree keeps its shape: no import cycles among server/ and shared/ nor in the whole
 * program, the hub's parts reach no socket, every export carries a doc comment (re-exports are
 * documented where they are defined), and compiled binaries embed every worker module.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const IMPORT = /^\s*(?:(?:import|export)\b[^;]*?\bfrom\s+|import\s+)"([^"]+)"/gm;

/** Relative paths (from the repo root) of the `.ts` files below `dir`. */
async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(new URL(dir + "/", ROOT))) {
    if (e.isDirectory) out.push(...await sources(`${dir}/${e.name}`));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
  }
  return out.sort();
}

/** The local files `file` imports (relative specifiers only), as repo-root paths. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    if (!m[1].startsWith(".")) continue;
    out.push(new URL(m[1], new URL(file, ROOT)).pathname.slice(ROOT.pathname.length));
  }
  return out;
}

/** One import cycle of `graph` as its path (first node repeated last), or undefined. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "open") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c !== undefined) return c;
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c !== undefined) return c;
  }
  return undefined;
}

async function graphOf(dirs: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const f of await sources(dir)) {
      graph.set(f, importsOf(f, await Deno.readTextFile(new URL(f, ROOT))));
    }
  }
  return graph;
}

/** The program's folders (the root's own `.ts` files are part of it too). */
const PROGRAM = ["bench", "client", "server", "shared"];

/** Relative paths of the program's `.ts` files: the root modules (main.ts…) and {@link PROGRAM}. */
async function programSources(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(ROOT)) {
    if (e.isFile && e.name.endsWith(".ts")) out.push(e.name);
  }
  for (const dir of PROGRAM) out.push(...await sources(dir));
  return out.sort();
}

/** `file:line` of each export line of `files` not right after a doc comment. */
async function undocumented(files: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const f of files) {
    const lines = (await Deno.readTextFile(new URL(f, ROOT))).split("\n");
    lines.forEach((line, i) => {
      if (
        !/^export (?:async )?(?:function|class|const|let|interface|type|enum)\s+[\w$]/.test(line)
      ) {
        return;
      }
      if (!lines[i - 1]?.trimEnd().endsWith("*/")) missing.push(`${f}:${i + 1}`);
    });
  }
  return missing;
}

Deno.test("layout: the cycle finder finds a cycle and passes a tree", () => {
  const tree = new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]]);
  assert.equal(findCycle(tree), undefined);
  const cyclic = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["b"]]]);
  assert.deepEqual(findCycle(cyclic), ["b", "c", "b"]);
});

Deno.test("layout: server/ and shared/ have no import cycles", async () => {
  const graph = await graphOf(["server", "shared"]);
  assert.ok(graph.has("server/hub.ts") && graph.get("server/hub.ts")!.length > 0);
  assert.equal(findCycle(graph), undefined);
});

Deno.test("layout: the whole program (main.ts, bench/, client/, server/, shared/) has no import cycles", async () => {
  const graph = new Map<string, string[]>();
  for (const f of await programSources()) {
    graph.set(f, importsOf(f, await Deno.readTextFile(new URL(f, ROOT))));
  }
  assert.ok(graph.get("main.ts")!.includes("server/cli.ts"));
  assert.equal(findCycle(graph), undefined);
});

Deno.test("layout: the hub's parts never reach a socket or the connection", async () => {
  const graph = await graphOf(["server", "shared"]);
  const reached = new Set<string>();
  const walk = (f: string) => {
    if (reached.has(f)) return;
    reached.add(f);
    for (const g of graph.get(f) ?? []) walk(g);
  };
  walk("server/hub.ts");
  for (const f of ["server/connection.ts", "server/server.ts", "shared/frame.ts"]) {
    assert.equal(reached.has(f), false, `server/hub.ts reaches ${f}`);
  }
  for (const f of reached) {
    const text = await Deno.readTextFile(new URL(f, ROOT));
    assert.doesNotMatch(text, /Deno\.(listen|connect)|node:net/, f);
  }
});

Deno.test("layout: every export of the program has a doc comment", async () => {
  assert.deepEqual(await undocumented(await programSources()), []);
});

Deno.test("layout: each `deno task compile` step embeds every worker module", async () => {
  const WORKER = /new Worker\(\s*new URL\("(\.[^"]+)",\s*import\.meta\.url\)/g;
  const workers = new Set<string>();
  for (const f of await programSources()) {
    const text = await Deno.readTextFile(new URL(f, ROOT));
    for (const m of text.matchAll(WORKER)) {
      workers.add(new URL(m[1], new URL(f, ROOT)).pathname.slice(ROOT.pathname.length));
    }
  }
  assert.ok(workers.has("server/checkpoint_worker.ts"), [...workers].join(", "));
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const steps = String(config.tasks.compile).split("&&");
  assert.ok(steps.length >= 1);
  for (const step of steps) {
    for (const w of workers) assert.ok(step.includes(`--include ${w}`), `${w} missing in: ${step}`);
  }
});
