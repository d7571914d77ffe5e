import assert from "node:assert/strict";
import {
  activeChildren,
  cpuCount,
  currentProcess,
  getpid,
  getppid,
  parentProcess,
  Process,
  ProcessError,
} from "../../mod.ts";
import {
  Adder,
  blocks,
  bumpGlobal,
  exitsWith,
  fails,
  failsLater,
  greet,
  leavesTimer,
  noop,
  readGlobal,
  reportIdentity,
  spins,
  startsDaemon,
  startsGrandchild,
  throwsLater,
} from "../fixtures/targets.ts";
import { assertNoChildren, runProgram } from "../_helpers.ts";

function identityCells() {
  return new Int32Array(new SharedArrayBuffer(5 * 4));
}

Deno.test("a target from a registered module runs in the process with its args", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const p = new Adder(20, 22, cells.buffer as SharedArrayBuffer);
  p.start();
  assert.equal(await p.join(), 0);
  assert.equal(cells[0], 42);
  assertNoChildren();
});

Deno.test("exitCode is 0 when the target returns and null before it ends", async () => {
  const p = new Process({ target: greet, args: ["tests"] });
  assert.equal(p.exitCode, null);
  p.start();
  assert.equal(p.isAlive(), true);
  await p.join();
  assert.equal(p.exitCode, 0);
  assert.equal(p.isAlive(), false);
});

Deno.test("pid is null before start and unique after, and getpid/getppid agree inside", async () => {
  const cells = identityCells();
  const p = new Process({
    target: reportIdentity,
    args: [cells.buffer as SharedArrayBuffer],
  });
  const q = new Process({ target: noop });
  assert.equal(p.pid, null);
  p.start();
  q.start();
  await Promise.all([p.join(), q.join()]);
  assert.notEqual(p.pid, q.pid);
  assert.equal(cells[4], 1);
  assert.equal(cells[0] + Deno.pid, p.pid);
  assert.equal(cells[1] + Deno.pid, Deno.pid); // its parent is the main program
  assert.equal(cells[3] + Deno.pid, getpid());
});

Deno.test("the main program is MainProcess with the OS pid and no parent", () => {
  assert.equal(currentProcess().name, "MainProcess");
  assert.equal(currentProcess().pid, Deno.pid);
  assert.equal(getpid(), Deno.pid);
  assert.equal(getppid(), Deno.ppid);
  assert.equal(parentProcess(), null);
  assert.ok(cpuCount() >= 1);
  assert.equal(currentProcess().isAlive(), true);
});

Deno.test("names default to Process-N and can be set", () => {
  const a = new Process();
  const b = new Process({ name: "worker" });
  assert.match(a.name, /^Process-\d+$/);
  assert.equal(b.name, "worker");
  a.name = "renamed";
  assert.equal(a.name, "renamed");
  assert.throws(() => (a.name = 3 as unknown as string), TypeError);
});

Deno.test("daemon can be set before start and not after", async () => {
  const p = new Process({ target: noop });
  assert.equal(p.daemon, false);
  p.daemon = true;
  assert.equal(p.daemon, true);
  p.start();
  assert.throws(() => (p.daemon = false), ProcessError);
  await p.join();
});

Deno.test("exitCode is 1 when the target throws", async () => {
  const p = new Process({ target: fails, args: ["expected by the test"] });
  p.start();
  assert.equal(await p.join(), 1);
});

Deno.test("exitCode is 1 when an async target rejects", async () => {
  const p = new Process({ target: failsLater, args: ["expected by the test"] });
  p.start();
  assert.equal(await p.join(), 1);
});

Deno.test("an error thrown from a timer in a child ends it with 1, not the parent", async () => {
  const p = new Process({ target: throwsLater });
  p.start();
  assert.equal(await p.join(), 1);
});

Deno.test("exit(n) inside a process sets its exitCode to n", async () => {
  const p = new Process({ target: exitsWith, args: [7] });
  p.start();
  assert.equal(await p.join(), 7);
});

Deno.test("terminate() ends a process busy in a loop with exitCode -15", async () => {
  const p = new Process({ target: spins });
  p.start();
  p.terminate();
  assert.equal(await p.join(), -15);
  assertNoChildren();
});

Deno.test("kill() ends a process blocked in Atomics.wait with exitCode -9", async () => {
  const p = new Process({ target: blocks });
  p.start();
  p.kill();
  assert.equal(await p.join(), -9);
});

Deno.test("terminate() after the process ended keeps its exit code", async () => {
  const p = new Process({ target: noop });
  p.start();
  await p.join();
  p.terminate();
  assert.equal(p.exitCode, 0);
});

Deno.test("a finished process releases its worker even if it left a timer", async () => {
  const p = new Process({ target: leavesTimer });
  p.start();
  assert.equal(await p.join(5000), 0);
});

Deno.test("join(timeoutMs) resolves to null while the process still runs", async () => {
  const p = new Process({ target: spins });
  p.start();
  assert.equal(await p.join(20), null);
  assert.equal(p.isAlive(), true);
  p.terminate();
  await p.join();
});

Deno.test("join() refuses a negative or non-number timeout", async () => {
  const p = new Process({ target: noop });
  p.start();
  await assert.rejects(p.join(-1), RangeError);
  await assert.rejects(p.join(Number.NaN), RangeError);
  await assert.rejects(p.join("5" as unknown as number), TypeError);
  await p.join();
});

Deno.test("starting twice throws", async () => {
  const p = new Process({ target: noop });
  p.start();
  assert.throws(() => p.start(), { name: "ProcessError", message: /twice/ });
  await p.join();
});

Deno.test("joining or terminating a process that never started throws", async () => {
  const p = new Process({ target: noop });
  await assert.rejects(p.join(), {
    name: "ProcessError",
    message: /start\(\)/,
  });
  assert.throws(() => p.terminate(), ProcessError);
});

Deno.test("close() refuses a running process and closes an ended one", async () => {
  const p = new Process({ target: spins });
  p.start();
  assert.throws(() => p.close(), { message: /still running/ });
  p.terminate();
  await p.join();
  p.close();
  assert.throws(() => p.exitCode, { message: /closed/ });
  assert.throws(() => p.isAlive(), { message: /closed/ });
  await assert.rejects(p.join(), { message: /closed/ });
  assert.throws(() => p.start(), { message: /closed/ });
});

Deno.test("await using terminates a running process and closes it", async () => {
  let escaped: Process | undefined;
  {
    await using p = new Process({ target: spins });
    p.start();
    escaped = p;
  }
  assert.throws(() => escaped!.exitCode, { message: /closed/ });
  assertNoChildren();
});

Deno.test("the current process cannot be started, joined or terminated", async () => {
  assert.throws(() => currentProcess().start(), ProcessError);
  await assert.rejects(currentProcess().join(), ProcessError);
  assert.throws(() => currentProcess().terminate(), ProcessError);
});

Deno.test("a closure target is refused at start() with its name and the fix", () => {
  function helper() {}
  const p = new Process({ target: helper });
  assert.throws(() => p.start(), {
    name: "TypeError",
    message: /"helper" is not exported from the main module.*registerTargets/,
  });
  assert.equal(p.pid, null);
  assertNoChildren();
});

Deno.test("an anonymous target is refused at start()", () => {
  const p = new Process({ target: [() => {}][0] });
  assert.throws(() => p.start(), { name: "TypeError", message: /anonymous/ });
});

Deno.test("an argument that cannot cross is refused at start() with its path", () => {
  const p = new Process({
    target: greet,
    args: [{ callback() {} } as unknown as string],
  });
  assert.throws(() => p.start(), {
    name: "TypeError",
    message: /^args\[0\]\.callback is a function/,
  });
  const q = new Process({
    target: greet,
    args: [Symbol("x") as unknown as string],
  });
  assert.throws(() => q.start(), {
    name: "TypeError",
    message: /^args\[0\] is a symbol/,
  });
  class Opaque {}
  const r = new Process({
    target: greet,
    args: [new Opaque() as unknown as string],
  });
  assert.throws(() => r.start(), {
    name: "TypeError",
    message: /^args\[0\] is an instance of Opaque/,
  });
});

Deno.test("a subclass field that cannot cross is refused at start() with its path", () => {
  const p = new Adder(1, 2, new SharedArrayBuffer(4));
  (p as unknown as { extra: unknown }).extra = { nested: [() => 1] };
  assert.throws(() => p.start(), {
    name: "TypeError",
    message: /^this\.extra\.nested\[0\] is a function/,
  });
});

Deno.test("bad constructor options throw TypeError naming the option", () => {
  assert.throws(() => new Process({ target: 3 as unknown as () => void }), {
    name: "TypeError",
    message: /options\.target/,
  });
  assert.throws(() => new Process({ target: noop, args: 1 as unknown as [] }), {
    name: "TypeError",
    message: /options\.args/,
  });
  assert.throws(() => new Process({ name: 1 as unknown as string }), {
    name: "TypeError",
    message: /options\.name/,
  });
  assert.throws(() => new Process({ daemon: "yes" as unknown as boolean }), {
    name: "TypeError",
    message: /options\.daemon/,
  });
});

Deno.test("args are checked against the target's parameters by the type checker", () => {
  // Compile-time checks: `deno check` fails if these lines stop being errors.
  // @ts-expect-error greet takes a string
  void (() => new Process({ target: greet, args: [1] }));
  // @ts-expect-error greet requires its argument
  void (() => new Process({ target: greet }));
  void (() => new Process({ target: noop }));
});

Deno.test("activeChildren() lists running children until they end", async () => {
  const p = new Process({ target: spins });
  p.start();
  assert.deepEqual(activeChildren(), [p]);
  p.terminate();
  await p.join();
  assert.deepEqual(activeChildren(), []);
});

Deno.test("each process has its own module globals", async () => {
  const out = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 2; i++) {
    const p = new Process({
      target: bumpGlobal,
      args: [out.buffer as SharedArrayBuffer],
    });
    p.start();
    await p.join();
    assert.equal(out[0], 10); // fresh globals each time
  }
  assert.equal(readGlobal(), 0);
});

Deno.test("a child may start children of its own", async () => {
  const cells = identityCells();
  const p = new Process({
    target: startsGrandchild,
    args: [cells.buffer as SharedArrayBuffer],
  });
  p.start();
  assert.equal(await p.join(), 0);
  assert.equal(cells[4], 1);
  assert.equal(cells[1] + Deno.pid, p.pid); // the grandchild's ppid
  assert.equal(cells[3] + Deno.pid, p.pid); // and its parentProcess().pid
});

Deno.test("a process ending terminates its daemon children", async () => {
  const p = new Process({ target: startsDaemon });
  p.start();
  assert.equal(await p.join(5000), 0);
});

Deno.test("a daemon process cannot start children", async () => {
  const p = new Process({
    target: startsGrandchild,
    args: [new SharedArrayBuffer(20)],
    daemon: true,
  });
  p.start();
  assert.equal(await p.join(), 1);
});

Deno.test("the inspector shows a process's name, pid and state", async () => {
  const p = new Process({ target: noop, name: "shown" });
  assert.match(
    Deno.inspect(p),
    /Process \{ name: "shown", pid: null, initial \}/,
  );
  p.start();
  await p.join();
  assert.match(Deno.inspect(p), /stopped exitCode=0/);
});

// Observed from a separate `deno run` program ---------------------------------

Deno.test("targets and subclasses exported from the main module need no ceremony", async () => {
  const { code, stdout } = await runProgram("main_targets.ts");
  assert.equal(code, 0);
  assert.match(stdout, /first: Process-1 pid=\d+ ppid=true touched in child/);
  assert.match(stdout, /Process-2 shouts HI THERE/);
  assert.match(stdout, /arrow 42\ndoubler exitCode=0/);
  assert.match(stdout, /parent: untouched/);
});

Deno.test("a daemon child never keeps the program alive", async () => {
  const { code, stdout } = await runProgram("daemon_exit.ts", { ms: 10_000 });
  assert.equal(code, 0);
  assert.equal(stdout, "started daemon alive=true\n");
});

Deno.test("a non-daemon child keeps the program alive until it ends", async () => {
  const { code, stdout } = await runProgram("non_daemon.ts");
  assert.equal(code, 0);
  assert.equal(stdout, "main done\nchild done\n");
});

Deno.test("the program exits after children busy or blocked are terminated", async () => {
  const { code, stdout } = await runProgram("terminate_exit.ts", {
    ms: 10_000,
  });
  assert.equal(code, 0);
  assert.equal(stdout, "spinner=-15 blocker=-9\n");
});

Deno.test("a crashing child prints its error under a Process header and the parent carries on", async () => {
  const { code, stdout, stderr } = await runProgram("crash.ts");
  assert.equal(code, 0);
  assert.match(stdout, /codes 1 1 1\nparent still running/);
  assert.match(stderr, /Process Process-1:\nError: boom\n\s+at /);
  assert.match(stderr, /Process Process-2:\nRangeError: later/);
  assert.match(stderr, /Process timer:\nError: thrown from a timer/);
});

Deno.test("the module works when imported by URL from an HTTP server", async () => {
  const root = new URL("../../", import.meta.url);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      try {
        const body = await Deno.readFile(new URL(`.${path}`, root));
        return new Response(body, {
          headers: { "content-type": "application/typescript" },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const { code, stdout, stderr } = await runProgram("url_import.ts", {
      flags: [
        "--allow-read",
        `--allow-import=127.0.0.1:${server.addr.port}`,
        "--reload",
        "--no-config",
      ],
      args: [base],
    });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "hello from a process\nexitCode=0\n");
  } finally {
    await server.shutdown();
  }
});

Deno.test("starting a process without the import.meta.main guard fails in the child, not forever", async () => {
  const { code, stdout, stderr } = await runProgram("no_main_guard.ts");
  assert.equal(code, 0);
  assert.equal(stdout, "exitCode=1\n");
  assert.match(
    stderr,
    /Process Process-1:\nProcessError: .*if \(import\.meta\.main\)/,
  );
});
