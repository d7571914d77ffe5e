import assert from "node:assert/strict";
import { checkTimeout, waitOf, within } from "../../src/core/wait.ts";
import { TimeoutError } from "../../mod.ts";

Deno.test("an omitted timeout and Infinity both mean no limit", () => {
  assert.equal(checkTimeout("timeout", undefined), Infinity);
  assert.equal(checkTimeout("timeout", Infinity), Infinity);
  assert.equal(waitOf("get()", {}).deadline, Infinity);
});

Deno.test("block: false means do not wait, whatever the timeout", () => {
  assert.equal(waitOf("get()", { block: false, timeout: 1000 }).deadline, 0);
});

Deno.test("a timeout that is not a number names the option and the fix", () => {
  assert.throws(
    () => waitOf("get()", { timeout: null }),
    (e: unknown) =>
      e instanceof TypeError && /'options\.timeout'/.test(e.message) &&
      /omit it/.test(e.message),
  );
});

Deno.test("a negative or NaN timeout is a RangeError", () => {
  assert.throws(() => checkTimeout("timeout", -1), RangeError);
  assert.throws(() => checkTimeout("timeout", NaN), RangeError);
});

Deno.test("a bare number is taken as a timeout, as Python's join(timeout)", () => {
  const { deadline } = waitOf("join()", 50);
  assert.ok(deadline > performance.now() && deadline < Infinity);
});

Deno.test("within rejects with TimeoutError once the deadline passes", async () => {
  await assert.rejects(
    within(new Promise(() => {}), { deadline: performance.now() + 5 }),
    TimeoutError,
  );
});

Deno.test("within rejects with the signal's reason when it aborts", async () => {
  const controller = new AbortController();
  const waiting = within(new Promise(() => {}), {
    deadline: Infinity,
    signal: controller.signal,
  });
  controller.abort("stop");
  await assert.rejects(waiting, (e) => e === "stop");
});
