import assert from "node:assert/strict";
import { Manager, Process } from "../../../mod.ts";
import { waitThenRecord } from "../_fixtures/targets.ts";
import { assertNoChildren } from "../../_helpers.ts";

Deno.test("setting an event releases a process waiting on it", async () => {
  {
    await using manager = await Manager.start();
    const event = await manager.Event();
    const d = await manager.dict();
    const p = new Process({ target: waitThenRecord, args: [event, d, "woke"] });
    p.start();
    assert.equal(await event.wait(20), false);
    assert.equal(await event.wait({ timeout: 20 }), false);
    await event.set();
    assert.equal(await event.isSet(), true);
    assert.equal(await p.join(20_000), 0);
    assert.equal(await d.get("woke"), true);
    await event.clear();
    assert.equal(await event.isSet(), false);
  }
  assertNoChildren();
});

Deno.test("an aborted event wait rejects with the signal's reason", async () => {
  await using manager = await Manager.start();
  const event = await manager.Event();
  const controller = new AbortController();
  const waiting = event.wait({ signal: controller.signal });
  const other = event.wait();
  controller.abort("cancelled");
  await assert.rejects(waiting, (error) => error === "cancelled");
  await event.set();
  assert.equal(await other, true);
});
