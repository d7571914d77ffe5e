import assert from "node:assert/strict";
import { Pipe, ProcessError } from "../../mod.ts";

Deno.test("a one-way pipe receives on the first end and sends on the second", async () => {
  const [reader, writer] = Pipe(false);
  assert.deepEqual([reader.readable, reader.writable], [true, false]);
  assert.deepEqual([writer.readable, writer.writable], [false, true]);
  assert.throws(() => reader.send("x"), ProcessError);
  await assert.rejects(writer.recv(), ProcessError);
  writer.send("ok");
  assert.equal(await reader.recv(), "ok");
});

Deno.test("Pipe checks duplex", () => {
  assert.throws(() => Pipe("yes" as never), TypeError);
});

Deno.test("a duplex pipe carries messages both ways in one process", async () => {
  const [a, b] = Pipe<string>();
  a.send("to b");
  b.send("to a");
  assert.equal(await b.recv(), "to b");
  assert.equal(await a.recv(), "to a");
});
