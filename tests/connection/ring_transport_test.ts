// Python's close semantics over the ring transport: close() closes this
// process's copy only; EOF comes once every copy of the writer end is
// closed or its process ended, after everything sent before.

import assert from "node:assert/strict";
import { EOFError, Pipe, Process, ProcessError } from "../../mod.ts";
import {
  answerOnceThenExit,
  answerOnceThenHang,
  closeUnusedThenEcho,
  echo,
  echoSync,
  PipeHolder,
  sendForever,
  sendNumbers,
  sendTagged,
} from "./_fixtures/targets.ts";
import { sendOne } from "./_fixtures/slow_start.ts";
import { assertNoChildren, runProgram, until } from "../_helpers.ts";

async function drain(conn: { recv(): Promise<unknown> }): Promise<unknown[]> {
  const got: unknown[] = [];
  while (true) {
    try {
      got.push(await conn.recv());
    } catch (error) {
      if (error instanceof EOFError) return got;
      throw error;
    }
  }
}

Deno.test("a duplex pipe carries messages both ways with a process", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] });
  p.start();
  there.close();
  const values = [1, "two", { three: [3, null] }, undefined, new Map([[4, 4]])];
  for (const value of values) {
    here.send(value);
    assert.deepEqual(await here.recv(), value);
  }
  here.close();
  assert.equal(await p.join(), 0);
  assertNoChildren();
});

Deno.test("a process blocked in recvSync answers and sees EOF", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echoSync, args: [there] });
  p.start();
  there.close();
  for (let i = 0; i < 100; i++) {
    here.send(i);
    assert.equal(await here.recv(), i);
  }
  here.close();
  assert.equal(await p.join(5000), 0);
  assertNoChildren();
});

Deno.test("a process blocked in recvSync ends at once when terminated", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echoSync, args: [there] });
  p.start();
  here.send("up?");
  assert.equal(await here.recv(), "up?"); // now it waits in recvSync
  p.terminate();
  assert.equal(await p.join(5000), -15);
  assertNoChildren();
});

Deno.test("closing the parent's copy of an end given to a process leaves it open there", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] });
  p.start();
  there.close(); // Python's idiom: close the child's end in the parent
  here.send("still open");
  assert.equal(await here.recv(), "still open");
  here.close();
  assert.equal(await p.join(), 0);
  assertNoChildren();
});

Deno.test("a child that closes the end it does not use leaves the parent's copy open", async () => {
  const [parentConn, childConn] = Pipe();
  const p = new Process({
    target: closeUnusedThenEcho,
    args: [childConn, parentConn],
  });
  p.start();
  childConn.close();
  for (let i = 0; i < 3; i++) {
    parentConn.send(i);
    assert.equal(await parentConn.recv(), i);
  }
  parentConn.close();
  assert.equal(await p.join(), 0);
  assertNoChildren();
});

Deno.test("a Process subclass closing this.parentConn in run() closes only its copy", async () => {
  const [parentConn, childConn] = Pipe();
  const p = new PipeHolder(parentConn, childConn);
  p.start();
  childConn.close();
  parentConn.send("ping");
  assert.equal(await parentConn.recv(), "ping");
  parentConn.close();
  assert.equal(await p.join(), 0);
  assertNoChildren();
});

Deno.test("the reader gets EOF only after the child's copy of the writer goes too", async () => {
  const [reader, writer] = Pipe(false);
  const p = new Process({ target: sendNumbers, args: [writer, 50] });
  p.start();
  writer.close();
  const got = await drain(reader);
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
  assert.equal(await p.join(), 0);
  assertNoChildren();
});

Deno.test("the parent's open copy of the writer keeps the reader from EOF", async () => {
  const [reader, writer] = Pipe(false);
  const p = new Process({ target: sendNumbers, args: [writer, 3] });
  p.start();
  assert.equal(await p.join(), 0);
  assert.deepEqual([reader.recvSync(), reader.recvSync(), reader.recvSync()], [
    0,
    1,
    2,
  ]);
  assert.equal(await reader.poll(20), false); // no EOF: a copy is open here
  writer.close();
  await assert.rejects(reader.recv(), EOFError);
  assertNoChildren();
});

Deno.test("four children sending on one end: the reader counts every message before EOF", async () => {
  const [reader, writer] = Pipe(false);
  const per = 2000;
  const children = [0, 1, 2, 3].map((id) =>
    new Process({ target: sendTagged, args: [writer, id, per] })
  );
  for (const child of children) child.start();
  writer.close();
  const next = [0, 0, 0, 0];
  for (const message of await drain(reader)) {
    const [id, i] = message as [number, number];
    assert.equal(i, next[id]++, `child ${id} out of order`);
  }
  assert.deepEqual(next, [per, per, per, per]);
  await Promise.all(children.map((child) => child.join()));
  assertNoChildren();
});

Deno.test("a terminated sender delivers nothing after its join(), and the reader sees EOF once drained", async () => {
  const [reader, writer] = Pipe(false);
  const sent = new Int32Array(new SharedArrayBuffer(4));
  const p = new Process({ target: sendForever, args: [writer, sent] });
  p.start();
  writer.close();
  await until(() => Atomics.load(sent, 0) > 5000, 20_000, "5000 sends");
  p.terminate();
  assert.equal(await p.join(), -15);
  const counted = Atomics.load(sent, 0);
  const got = await drain(reader);
  // The send it was in when stopped is wholly there or not at all.
  assert.ok(
    got.length === counted || got.length === counted + 1,
    `${got.length} messages for ${counted} sends`,
  );
  got.forEach((value, i) => assert.equal(value, i));
  assertNoChildren();
});

Deno.test("a receiver terminated before it revived its copy does not keep the pipe open", async () => {
  const [reader, writer] = Pipe(false);
  const p = new Process({ target: sendOne, args: [writer] });
  p.start(); // its module takes 10 s to load: it never revives the end
  writer.close();
  assert.equal(await reader.poll(50), false); // the child's copy counts
  p.terminate();
  await p.join();
  await assert.rejects(reader.recv(), EOFError);
  assertNoChildren();
});

Deno.test("recv rejects with EOFError when the peer process is terminated mid-conversation", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: answerOnceThenHang, args: [there] });
  p.start();
  there.close();
  here.send("ping");
  assert.equal(await here.recv(), "ping");
  const pending = here.recv();
  p.terminate();
  await assert.rejects(pending, EOFError);
  await p.join();
  assertNoChildren();
});

Deno.test("recv rejects with EOFError when the peer process exits mid-conversation", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: answerOnceThenExit, args: [there] });
  p.start();
  there.close();
  here.send("ping");
  assert.equal(await here.recv(), "ping");
  await assert.rejects(here.recv(), EOFError);
  assert.equal(await p.join(), 3);
  assertNoChildren();
});

Deno.test("send to an end whose only holder ended throws a broken-pipe error", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: sendNumbers, args: [there, 0] });
  p.start();
  there.close();
  await p.join();
  assert.throws(
    () => here.send("anyone?"),
    (e: Error) =>
      e instanceof ProcessError && e.message.includes("broken pipe"),
  );
  assertNoChildren();
});

Deno.test("an end dropped without close() gives its peer EOF once collected", async () => {
  const result = await runProgram(
    new URL("./_fixtures/dropped_end.ts", import.meta.url),
    { flags: ["--allow-read", "--v8-flags=--expose-gc"] },
  );
  assert.equal(result.stderr, "");
  assert.equal(result.stdout.trim(), "last words\nEOFError");
  assert.equal(result.code, 0);
});
