// The managers' layout: files of a readable size, no wait of their own
// beside park.ts, and no import cycle through them.

import assert from "node:assert/strict";

const root = new URL("../../src/managers/", import.meta.url);

function sources(dir: URL): URL[] {
  const files: URL[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) files.push(...sources(url));
    else if (entry.name.endsWith(".ts")) files.push(url);
  }
  return files;
}

Deno.test("no managers source file is over 600 lines", () => {
  for (const file of sources(root)) {
    const lines = Deno.readTextFileSync(file).split("\n").length;
    assert.ok(lines <= 600, `${file.pathname} has ${lines} lines`);
  }
});

Deno.test("the managers wait only through park.ts", () => {
  for (const file of sources(root)) {
    const text = Deno.readTextFileSync(file);
    assert.doesNotMatch(
      text,
      /Atomics\.(wait|waitAsync|notify)\b/,
      file.pathname,
    );
  }
});

Deno.test("no import cycle runs through the managers", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../../mod.ts", import.meta.url).href],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: {
        code?: { specifier?: string };
        type?: { specifier?: string };
      }[];
    }[];
  };
  const graph = new Map<string, string[]>();
  for (const module of info.modules) {
    const deps = (module.dependencies ?? []).flatMap((dep) =>
      [dep.code?.specifier, dep.type?.specifier].filter((s) => s !== undefined)
    ) as string[];
    graph.set(module.specifier, deps);
  }
  // Every module the managers import, and whether it leads back to them.
  // Paths through mod.ts are left out: the runtime's child entry imports
  // it (every reducer registered before arguments are revived), a cycle
  // of the runtime's that its own tests watch.
  const entry = new URL("../../mod.ts", import.meta.url).href;
  graph.set(entry, []);
  const managers = [...graph.keys()].filter((s) => s.startsWith(root.href));
  for (const start of managers) {
    const seen = new Set<string>();
    const stack = [...graph.get(start)!];
    while (stack.length > 0) {
      const next = stack.pop()!;
      assert.notEqual(next, start, `${start} imports itself through others`);
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(graph.get(next) ?? []));
    }
  }
});
