// Python's Manager tutorial: processes write into a dict and a list that a
// manager's server process owns, and the parent reads the result.
//
//   deno run --allow-read examples/manager_dict.ts

import {
  currentProcess,
  type DictProxy,
  type ListProxy,
  Manager,
  Process,
} from "../mod.ts";

export async function f(d: DictProxy, l: ListProxy, n: number): Promise<void> {
  await d.set(currentProcess().name, n);
  await d.set(`square of ${n}`, n * n);
  await l.append(n);
}

if (import.meta.main) {
  await using manager = await Manager.start();
  const d = await manager.dict();
  const l = await manager.list();
  const ps = [1, 2].map((n) =>
    new Process({ target: f, args: [d, l, n], name: `writer-${n}` })
  );
  for (const p of ps) p.start();
  for (const p of ps) await p.join();
  await l.sort();
  console.log(await d.toObject());
  console.log(await l.toArray());
  console.log(d); // DictProxy { id: 1, manager pid: … }
}
