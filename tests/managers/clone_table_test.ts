// The manager's part of the table test over every channel: each value of
// tests/core/_clone_cases.ts as a managed dict's value, a managed list's
// item and a dict key arrives as `structuredClone` gives it; each refused
// value is refused with a TypeError naming its path.

import assert from "node:assert/strict";
import { Manager } from "../../mod.ts";
import { CLONE_CASES, REFUSED_CASES } from "../core/_clone_cases.ts";
import { assertSameClone } from "../core/_same_clone.ts";

for (const { name, make, expected } of CLONE_CASES) {
  Deno.test(`a manager carries ${name} as structuredClone does, as a value, an item and a key`, async () => {
    await using manager = await Manager.start();
    const value = make();
    const clone = () => expected ? expected(value) : structuredClone(value);
    const d = await manager.dict<unknown, unknown>();
    await d.set("value", value);
    assertSameClone(await d.get("value"), clone(), "dict value");
    const l = await manager.list<unknown>();
    await l.append(value);
    assertSameClone(await l.get(0), clone(), "list item");
    // As a key: found again by an equal value, and read back as a clone.
    const keys = await manager.dict<unknown, string>();
    await keys.set(value, "found");
    assert.equal(await keys.get(make()), "found");
    assert.equal(await keys.len(), 1);
    assertSameClone((await keys.keys())[0], clone(), "dict key");
  });
}

for (const { name, make, path } of REFUSED_CASES) {
  Deno.test(`a manager refuses ${name} as a value, an item and a key, naming its path`, async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<unknown, unknown>();
    const l = await manager.list<unknown>();
    const refused = (error: unknown) =>
      error instanceof TypeError && /^Cannot send args\[/.test(error.message) &&
      path.test(error.message);
    await assert.rejects(d.set("value", make()), refused);
    await assert.rejects(l.append(make()), refused);
    await assert.rejects(d.set(make(), "value"), refused);
    assert.equal(await d.len(), 0); // the manager still serves
    assert.equal(await l.len(), 0);
  });
}
