import assert from "node:assert/strict";
import { registerTargets } from "../../mod.ts";
import {
  locateTarget,
  resolveTarget,
  scanExports,
} from "../../src/runtime/targets.ts";
import { greet } from "../fixtures/targets.ts";

Deno.test("scanExports finds declarations, lists, renames and defaults", () => {
  const names = scanExports(`
    export function plain() {}
    export async function* gen() {}
    export default class Main {}
    export abstract class Base {}
    export const arrow = () => 1, other = 2;
    const local = 1; function inner() {}
    export { local, inner as renamed, type T };
    // export function commented() {}
    /* export class Hidden {} */
    const url = "http://example.com"; export let after = 1;
  `);
  assert.equal(names.get("plain"), "plain");
  assert.equal(names.get("gen"), "gen");
  assert.equal(names.get("Main"), "default");
  assert.equal(names.get("Base"), "Base");
  assert.equal(names.get("arrow"), "arrow");
  assert.equal(names.get("local"), "local");
  assert.equal(names.get("inner"), "renamed");
  assert.equal(names.get("after"), "after");
  assert.equal(names.has("commented"), false);
  assert.equal(names.has("Hidden"), false);
});

Deno.test("a registered target is located by its module's URL and name", () => {
  const locator = locateTarget(greet, "target");
  assert.equal(locator.name, "greet");
  assert.match(locator.url, /tests\/fixtures\/targets\.ts$/);
});

Deno.test("resolveTarget imports the module and finds the registered function", async () => {
  assert.equal(await resolveTarget(locateTarget(greet, "target")), greet);
});

Deno.test("resolveTarget says what is missing", async () => {
  const url = new URL("../fixtures/targets.ts", import.meta.url).href;
  await assert.rejects(resolveTarget({ url, name: "nope" }), {
    name: "TypeError",
    message: /"nope" is not exported from .*targets\.ts/,
  });
});

Deno.test("registerTargets refuses what is not a module or not a function", () => {
  assert.throws(() => registerTargets(42 as unknown as ImportMeta, {}), {
    name: "TypeError",
    message: /import\.meta or the module's URL/,
  });
  assert.throws(
    () => registerTargets(import.meta, { x: 1 as unknown as () => void }),
    {
      name: "TypeError",
      message: /targets\.x to be a function/,
    },
  );
});
