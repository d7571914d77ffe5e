/**
 * `Process`: Python's `multiprocessing.Process`, as an actor in a worker
 * thread, with `currentProcess()`, `parentProcess()`, `activeChildren()`,
 * `cpuCount()`, `getpid()`, `getppid()` and `exit()`.
 *
 * Processes here are actors sharing one OS process: each runs in its own
 * thread with its own module globals, and `pid`s are unique numbers within
 * the program rather than OS pids.
 *
 * @module
 */

import { isMainThread } from "node:worker_threads";
import { deadline, signalled, validateTimeout } from "../core/_async.ts";
import {
  allocatePid,
  currentIdentity,
  endThisProcess,
  type Identity,
  markAlive,
  markEnded,
  nextChildPath,
  runExitHooks,
  setCurrentIdentity,
} from "../runtime/_context.ts";
import {
  holdChild,
  startChild,
  terminateChild,
} from "../runtime/_spawner_client.ts";
import { ProcessError } from "../errors.ts";
import { reduce, revive } from "../core/reduction.ts";
import { describe } from "../core/describe.ts";
import {
  locateTarget,
  resolveTarget,
  type TargetLocator,
} from "../runtime/targets.ts";

/**
 * Options of `new Process(...)`. `args` is required when the target has
 * required parameters, and is checked against them.
 *
 * @example Options typed for a target
 * ```ts
 * import type { ProcessOptions } from "@seed/multiprocessing";
 * import { greet } from "../../tests/fixtures/targets.ts";
 * import assert from "node:assert/strict";
 *
 * const options: ProcessOptions<[string]> = {
 *   target: greet,
 *   args: ["ada"],
 *   name: "greeter",
 * };
 * assert.equal(options.args[0], "ada");
 * ```
 */
export type ProcessOptions<A extends unknown[] = unknown[]> =
  & {
    /** The function the process runs (Python's `target`); sync or async. */
    target?: (...args: A) => unknown;
    /** The name; `Process-N` by default. */
    name?: string;
    /** A daemon never keeps the program alive; `false` by default. */
    daemon?: boolean;
  }
  & ([] extends A ? {
      /** Arguments for `target`: structured-cloned, or shared by reference. */
      args?: NoInfer<A>;
    }
    : {
      /** Arguments for `target`: structured-cloned, or shared by reference. */
      args: NoInfer<A>;
    });

/** Exit codes given to processes ended by `terminate()` and `kill()`. */
const SIGTERM_CODE = -15;
const SIGKILL_CODE = -9;

type Role = "child" | "self" | "parent";

interface ProcessState {
  role: Role;
  name: string;
  daemon: boolean;
  path: number[];
  // deno-lint-ignore ban-types
  target?: Function;
  args: unknown[];
  pid: number | null;
  /** Started and not yet seen to end. */
  running: boolean;
  exitCode: number | null;
  ending?: number;
  started: boolean;
  closed: boolean;
  exited?: ReturnType<typeof signalled<number>>;
}

const states = new WeakMap<object, ProcessState>();
const children = new Set<Process>();

function stateOf(process: object): ProcessState {
  const state = states.get(process);
  if (state === undefined) {
    throw new TypeError(
      "this Process was built without calling super(): call super() in your subclass's constructor",
    );
  }
  return state;
}

/**
 * A process: runs `target(...args)` (or a subclass's `run()`) in its own
 * worker thread, with its own module globals. Python's
 * `multiprocessing.Process`, with `join()` a promise and timeouts in
 * milliseconds.
 *
 * A target must be reachable from the worker: exported from the main module
 * (nothing else to do), or registered in its own module with
 * `registerTargets(import.meta, { work })`. Put the code that starts
 * processes under `if (import.meta.main)`, as Python puts it under
 * `if __name__ == "__main__"`: a worker imports the main module to find its
 * target, and must not start the program again.
 *
 * @example A process from a target
 * ```ts
 * import { Process } from "@seed/multiprocessing";
 * import { greet } from "../../tests/fixtures/targets.ts";
 * import assert from "node:assert/strict";
 *
 * const p = new Process({ target: greet, args: ["bob"] });
 * p.start();
 * await p.join();
 * assert.equal(p.exitCode, 0);
 * ```
 *
 * @example A subclass that overrides `run()`
 * ```ts ignore
 * import { Process } from "@seed/multiprocessing";
 *
 * export class Counter extends Process {
 *   constructor(readonly upTo: number) {
 *     super();
 *   }
 *   override run() {
 *     for (let i = 1; i <= this.upTo; i++) console.log(this.name, i);
 *   }
 * }
 *
 * if (import.meta.main) {
 *   const p = new Counter(3);
 *   p.start();
 *   await p.join();
 * }
 * ```
 */
export class Process<A extends unknown[] = any[]> {
  /**
   * Creates a process that is not started yet. Subclasses call `super()`
   * (with options, or none) and may keep their own fields: those cross into
   * the process like arguments.
   */
  constructor(options?: ProcessOptions<A>) {
    const opts = (options ?? {}) as {
      target?: unknown;
      args?: unknown;
      name?: unknown;
      daemon?: unknown;
    };
    if (typeof opts !== "object") {
      throw new TypeError(
        `new Process() expected an options object such as { target, args }, received ${
          describe(options)
        }`,
      );
    }
    if (opts.target !== undefined && typeof opts.target !== "function") {
      throw new TypeError(
        `new Process() expected options.target to be a function, received ${
          describe(opts.target)
        }`,
      );
    }
    if (opts.args !== undefined && !Array.isArray(opts.args)) {
      throw new TypeError(
        `new Process() expected options.args to be an array of arguments, received ${
          describe(opts.args)
        }: wrap a single argument as [value]`,
      );
    }
    if (opts.name !== undefined && typeof opts.name !== "string") {
      throw new TypeError(
        `new Process() expected options.name to be a string, received ${
          describe(opts.name)
        }`,
      );
    }
    if (opts.daemon !== undefined && typeof opts.daemon !== "boolean") {
      throw new TypeError(
        `new Process() expected options.daemon to be a boolean, received ${
          describe(opts.daemon)
        }`,
      );
    }
    const path = nextChildPath();
    states.set(this, {
      role: "child",
      name: opts.name ?? `Process-${path.join(":")}`,
      // Python: a child of a daemon inherits the flag.
      daemon: opts.daemon ?? currentIdentity().daemon,
      path,
      target: opts.target as ProcessState["target"],
      args: (opts.args as unknown[]) ?? [],
      pid: null,
      running: false,
      exitCode: null,
      started: false,
      closed: false,
    });
  }

  /**
   * What the process does; by default calls `target(...args)`. Override it
   * in a subclass. It may return a promise: the process ends when it settles.
   */
  run(): unknown {
    const state = stateOf(this);
    return state.target?.(...state.args);
  }

  /**
   * Starts the process in a new worker thread. Throws here, in the parent,
   * when the target cannot reach the worker or an argument cannot cross.
   */
  start(): void {
    const state = checked(this, "start");
    if (state.role !== "child") {
      throw new ProcessError(
        `cannot start ${state.name}: it is the ${
          state.role === "self" ? "current" : "parent"
        } process, not a child of it`,
      );
    }
    if (state.started) {
      throw new ProcessError(`cannot start a process twice (${state.name})`);
    }
    if (bootstrapping) {
      throw new ProcessError(
        `${state.name} was started while ${currentIdentity().name} was importing its target's module: put the code that starts processes under \`if (import.meta.main) { ... }\`, so that a process importing the main module does not run the program again`,
      );
    }
    const me = currentIdentity();
    if (me.daemon) {
      throw new ProcessError(
        `daemonic processes are not allowed to have children: ${me.name} is a daemon`,
      );
    }
    // The pid first: reducers of the arguments learn who receives them (a
    // Pipe end counts its copy as the child's from now on, so that the
    // child's death releases it even before it revives it).
    const pid = allocatePid();
    let message: ProcessStart;
    try {
      message = startMessage(this, state, pid);
    } catch (error) {
      markEnded(pid); // what was counted for the child goes with it
      throw error;
    }
    message.identity.pid = pid;
    state.pid = pid;
    state.started = true;
    state.running = true;
    state.exited = signalled<number>();
    markAlive(pid);
    children.add(this);
    startChild({
      pid,
      name: state.name,
      daemon: state.daemon,
      message,
      transfer: message.transfer,
      onExit: (code) => onExit(this, code),
    });
  }

  /**
   * Waits until the process ends, or until `timeoutMs` passes (Python's
   * `join(timeout)`). Resolves to the exit code, or `null` on timeout.
   */
  async join(timeoutMs?: number): Promise<number | null> {
    const state = checked(this, "join");
    const timeout = validateTimeout("join() timeoutMs", timeoutMs);
    if (state.role !== "child") {
      throw new ProcessError(
        `can only join a child process: ${state.name} is the ${
          state.role === "self" ? "current" : "parent"
        } process`,
      );
    }
    if (!state.started) {
      throw new ProcessError(
        `can only join a started process: call start() on ${state.name} first`,
      );
    }
    if (!state.running) return state.exitCode;
    // A daemon never keeps the program alive, but whoever waits for it does,
    // as Python's join() of a daemon does.
    holdChild(state.pid!, 1);
    try {
      return await deadline(state.exited!.promise, timeout, () => null);
    } finally {
      if (state.running) holdChild(state.pid!, -1);
    }
  }

  /** Whether the process has started and not yet ended. */
  isAlive(): boolean {
    const state = checked(this, "isAlive");
    if (state.role !== "child") return true;
    return state.started && state.exitCode === null;
  }

  /**
   * Ends the process at once, even when it is busy in a loop or blocked in
   * a wait; its `exitCode` becomes `-15` (Python's SIGTERM). Code in the
   * process gets no chance to clean up, so a lock it held may stay held
   * (the next acquirer learns of it, see `Lock`).
   */
  terminate(): void {
    endProcess(this, "terminate", SIGTERM_CODE);
  }

  /** Like `terminate()`, with `exitCode` `-9` (Python's SIGKILL). */
  kill(): void {
    endProcess(this, "kill", SIGKILL_CODE);
  }

  /**
   * Releases the process object (Python's `close()`). Throws if it is still
   * running; afterwards every other method throws.
   */
  close(): void {
    const state = stateOf(this);
    if (state.closed) return;
    if (state.role === "child" && state.started && state.exitCode === null) {
      throw new ProcessError(
        `cannot close ${state.name} while it is still running: call join() or terminate() first`,
      );
    }
    state.closed = true;
    state.target = undefined;
    state.args = [];
  }

  /** Terminates the process if it still runs, waits for it, and closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    const state = stateOf(this);
    if (state.closed) return;
    if (state.role === "child" && state.started) {
      if (state.exitCode === null) this.terminate();
      await this.join();
    }
    this.close();
  }

  /** The process's name, `Process-N` by default; settable at any time. */
  get name(): string {
    return stateOf(this).name;
  }
  set name(value: string) {
    if (typeof value !== "string") {
      throw new TypeError(
        `Process name must be a string, received ${describe(value)}`,
      );
    }
    stateOf(this).name = value;
  }

  /** Whether the process is a daemon; settable only before `start()`. */
  get daemon(): boolean {
    return stateOf(this).daemon;
  }
  set daemon(value: boolean) {
    const state = stateOf(this);
    if (typeof value !== "boolean") {
      throw new TypeError(
        `Process daemon must be a boolean, received ${describe(value)}`,
      );
    }
    if (state.started || state.role !== "child") {
      throw new ProcessError(
        `cannot set daemon on ${state.name}: the process has already started`,
      );
    }
    state.daemon = value;
  }

  /** A number unique among the program's processes; `null` before `start()`. */
  get pid(): number | null {
    return stateOf(this).pid;
  }

  /** Same as `pid` (Python's `ident`). */
  get ident(): number | null {
    return this.pid;
  }

  /**
   * `null` while the process runs (or before it starts); then `0` when the
   * target returned, `1` when it threw, `n` after `exit(n)`, `-15` after
   * `terminate()` and `-9` after `kill()`.
   */
  get exitCode(): number | null {
    return checked(this, "exitCode").exitCode;
  }

  /** `Process {name, pid, state}`, as Python's repr shows it. */
  [Symbol.for("Deno.customInspect")](): string {
    const state = stateOf(this);
    const status = state.closed
      ? "closed"
      : state.role !== "child"
      ? "started"
      : !state.started
      ? "initial"
      : state.exitCode === null
      ? "started"
      : `stopped exitCode=${state.exitCode}`;
    return `${this.constructor.name} { name: ${
      JSON.stringify(state.name)
    }, pid: ${state.pid}, ${status}${state.daemon ? ", daemon" : ""} }`;
  }
}

function startMessage(
  self: Process,
  state: ProcessState,
  pid: number,
): ProcessStart {
  const cls = self.constructor as typeof Process;
  const classLocator = cls === Process
    ? undefined
    : locateTarget(cls, "Process subclass");
  const target = state.target === undefined
    ? undefined
    : locateTarget(state.target, "target");
  const args = reduce(state.args, "args", pid);
  const fields = reduce({ ...self }, "this", pid);
  return {
    role: "process",
    identity: {
      name: state.name,
      pid: 0,
      ppid: currentIdentity().pid,
      daemon: state.daemon,
      path: state.path,
    },
    parentName: currentIdentity().name,
    cls: classLocator,
    target,
    args: args.value,
    fields: fields.value,
    marked: args.marked || fields.marked,
    transfer: [...args.transfer, ...fields.transfer],
  };
}

/**
 * Resolves with the exit code once `process` (started) has ended and its
 * thread can no longer run, without keeping the program alive as `join()`
 * does: for supervisors (the pool) that watch their daemon workers.
 */
export function whenEnded(process: Process): Promise<number> {
  const state = stateOf(process);
  if (!state.started) {
    return Promise.reject(
      new ProcessError(`Cannot watch ${state.name}: it was never started`),
    );
  }
  return state.exited!.promise;
}

function onExit(self: Process, code: number): void {
  const state = stateOf(self);
  state.exitCode = state.ending ?? code;
  state.running = false;
  markEnded(state.pid!);
  children.delete(self);
  state.exited!.resolve(state.exitCode);
}

function endProcess(self: Process, method: string, code: number): void {
  const state = checked(self, method);
  if (state.role !== "child") {
    throw new ProcessError(
      `${method}() ends child processes; to end the current process call exit()`,
    );
  }
  if (!state.started) {
    throw new ProcessError(
      `cannot ${method} ${state.name}: it was never started`,
    );
  }
  if (!state.running) return; // already ended
  state.ending ??= code;
  terminateChild(state.pid!);
}

function checked(self: Process, method: string): ProcessState {
  const state = stateOf(self);
  if (state.closed) {
    throw new ProcessError(
      `cannot use ${method} on ${state.name}: the process object is closed`,
    );
  }
  return state;
}

/** Formats a thrown value the way the child prints it under its header. */
export function formatError(error: unknown): string {
  if (error instanceof Error) {
    return Deno.inspect(error, { colors: false });
  }
  return `Uncaught ${Deno.inspect(error, { colors: false })}`;
}

// The process this thread runs ----------------------------------------------

let current: Process | undefined;
/** True while a child imports its target's module (Python's bootstrapping phase). */
let bootstrapping = false;
let parent: Process | null | undefined;

function view(identity: Identity, role: Role): Process {
  const object = Object.create(Process.prototype) as Process;
  states.set(object, {
    role,
    name: identity.name,
    daemon: identity.daemon,
    path: identity.path,
    args: [],
    pid: identity.pid,
    running: true,
    exitCode: null,
    started: true,
    closed: false,
  });
  return object;
}

/**
 * The `Process` object of the code that calls it: `MainProcess` in the main
 * program; in a child, the child's own object (a subclass's instance too),
 * with its `name`, `pid` and `daemon` (Python's `current_process()`).
 *
 * @example
 * ```ts
 * import { currentProcess, getpid } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(currentProcess().name, "MainProcess");
 * assert.equal(currentProcess().pid, getpid());
 * ```
 */
export function currentProcess(): Process {
  current ??= view(currentIdentity(), "self");
  return current;
}

/**
 * The process that started this one, or `null` in the main program
 * (Python's `parent_process()`).
 *
 * @example
 * ```ts
 * import { parentProcess } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parentProcess(), null);
 * ```
 */
export function parentProcess(): Process | null {
  if (parent === undefined) {
    const me = currentIdentity();
    parent = isMainThread ? null : view({
      name: parentName,
      pid: me.ppid,
      ppid: 0,
      daemon: false,
      path: me.path.slice(0, -1),
    }, "parent");
  }
  return parent;
}

let parentName = "MainProcess";

/**
 * The children of this process that are still running (Python's
 * `active_children()`).
 *
 * @example
 * ```ts
 * import { activeChildren } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(activeChildren(), []);
 * ```
 */
export function activeChildren(): Process[] {
  return [...children];
}

/**
 * The number of CPUs (Python's `cpu_count()`), from
 * `navigator.hardwareConcurrency`.
 *
 * @example
 * ```ts
 * import { cpuCount } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.ok(cpuCount() >= 1);
 * ```
 */
export function cpuCount(): number {
  return navigator.hardwareConcurrency || 1;
}

/**
 * This process's pid (Python's `os.getpid()`): `Deno.pid` in the main
 * program, the child's `pid` in a child.
 *
 * @example
 * ```ts
 * import { getpid } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(getpid(), Deno.pid);
 * ```
 */
export function getpid(): number {
  return currentIdentity().pid;
}

/**
 * The pid of this process's parent (Python's `os.getppid()`): in a child,
 * the `pid` of the process that started it; in the main program, the OS
 * parent's pid.
 *
 * @example
 * ```ts
 * import { getppid } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(typeof getppid(), "number");
 * ```
 */
export function getppid(): number {
  return currentIdentity().ppid;
}

/**
 * Ends the current process at once with exit code `code` (Python's
 * `sys.exit(code)` in a child). In a child the parent sees `exitCode ===
 * code`; in the main program it is `Deno.exit(code)`. Children the process
 * started end with it.
 *
 * @example
 * ```ts ignore
 * import { exit } from "@seed/multiprocessing";
 *
 * export function worker(limit: number) {
 *   if (limit < 0) exit(3); // the parent sees exitCode 3
 * }
 * ```
 */
export function exit(code = 0): never {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new RangeError(
      `exit() expected an integer exit code from 0 to 255, received ${
        describe(code)
      }`,
    );
  }
  if (isMainThread) Deno.exit(code);
  endThisProcess(code);
}

// The child's side ------------------------------------------------------------

/** The message a parent posts to a fresh worker to make it a process. */
export interface ProcessStart {
  role: "process";
  identity: Identity;
  parentName: string;
  cls?: TargetLocator;
  target?: TargetLocator;
  args: unknown;
  fields: unknown;
  marked: boolean;
  transfer: Transferable[];
}

/**
 * In a worker: becomes the process described by `message`, runs it, waits
 * for its non-daemon children and ends the thread with the exit code. Called
 * by the bootstrap in runtime/_child_entry.ts.
 */
export async function runAsChild(message: ProcessStart): Promise<never> {
  setCurrentIdentity(message.identity);
  parentName = message.parentName;
  bootstrapping = true;
  const cls = message.cls === undefined
    ? Process
    : await resolveTarget(message.cls) as typeof Process;
  if (cls !== Process && !(cls.prototype instanceof Process)) {
    throw new TypeError(
      `${
        message.cls!.name
      } is not a subclass of Process, so it cannot run as one`,
    );
  }
  const target = message.target === undefined
    ? undefined
    : await resolveTarget(message.target);
  bootstrapping = false;
  const args = (message.marked ? revive(message.args) : message.args) as [];
  const fields = message.marked ? revive(message.fields) : message.fields;
  const self = Object.create(cls.prototype) as Process;
  Object.assign(self, fields);
  states.set(self, {
    role: "self",
    name: message.identity.name,
    daemon: message.identity.daemon,
    path: message.identity.path,
    target,
    args,
    pid: message.identity.pid,
    running: true,
    exitCode: null,
    started: true,
    closed: false,
  });
  current = self;
  await self.run();
  await endChildren();
  await runExitHooks();
  endThisProcess(0);
}

/**
 * What a process does before it ends, as Python's `_exit_function`:
 * terminate its daemon children, then wait for the others.
 */
async function endChildren(): Promise<void> {
  for (const child of children) if (child.daemon) child.terminate();
  await Promise.all([...children].map((child) => child.join()));
}
