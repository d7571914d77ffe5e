// How a cluster worker runs tasks: in a local Pool of this module, so that
// supervision, timeouts and maxTasksPerChild carry over; and how much work
// it takes at once, from how long its tasks take.

import { ProcessError } from "../errors.ts";
import { Pool } from "../pool/pool.ts";
import {
  CALL,
  decodeValue,
  FAILED,
  MAP,
  OK,
  type TaskEntry,
} from "./_layout.ts";
import { resolveTask } from "./_targets.ts";

/** Work kept at hand per process by the default prefetch, and its bound. */
const PREFETCH_MS = 5;
const MAX_PREFETCH = 128;
/** Tasks typically shorter than this run without a signal (see `run`). */
const STOPPABLE_MS = 2;

type Task = (...args: unknown[]) => unknown;

/** How a task ended in the local pool. */
export interface Outcome {
  status: number;
  value: unknown;
  runningMs: number;
}

export class LocalRunner {
  readonly pool: Pool;
  readonly #processes: number;
  readonly #prefetch?: number;
  readonly #root: URL;
  readonly #worker: string;
  /** The mean time one task holds a process (ms), once measured. */
  #serviceMs?: number;
  /** The same per task function (`name@module`). */
  #durations = new Map<string, number>();
  #functions = new Map<string, Task>();

  constructor(settings: {
    processes: number;
    prefetch?: number;
    maxTasksPerChild?: number;
    root: URL;
    worker: string;
  }) {
    this.#processes = settings.processes;
    this.#prefetch = settings.prefetch;
    this.#root = settings.root;
    this.#worker = settings.worker;
    this.pool = new Pool({
      processes: settings.processes,
      maxTasksPerChild: settings.maxTasksPerChild,
    });
  }

  /**
   * How many tasks the worker holds at most: one per process, plus the
   * prefetch, which by default keeps ~5 ms of work at hand per process
   * (tiny tasks then travel in batches; long ones are left to idle peers).
   */
  capacity(): number {
    const processes = this.#processes;
    if (this.#prefetch !== undefined) return processes + this.#prefetch;
    if (this.#serviceMs === undefined) return 2 * processes;
    const extra = Math.floor(PREFETCH_MS / Math.max(this.#serviceMs, 0.001));
    return processes * (1 + Math.min(MAX_PREFETCH, extra));
  }

  /**
   * Whether a task should run with a signal, which lets a cancel stop it.
   * A task with a signal runs alone on its local process (the pool stops
   * the process to stop it), which costs tiny tasks ~4× their throughput:
   * only tasks that may run long get one — with a timeout, or of a function
   * not seen yet or seen taking ≥ STOPPABLE_MS. A tiny task cancelled while
   * it runs finishes, and its result is dropped.
   */
  stoppable(task: TaskEntry): boolean {
    const typical = this.#durations.get(`${task.name}@${task.module}`);
    return task.timeout > 0 || typical === undefined || typical >= STOPPABLE_MS;
  }

  /**
   * Runs a task; `held` is how many tasks the worker holds now, to tell its
   * own time from its wait in the local queue.
   */
  async run(
    task: TaskEntry,
    held: number,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    const started = performance.now();
    const ahead = Math.max(1, held / this.#processes);
    let status = OK;
    let value: unknown;
    try {
      // Resolved once per function and source hash: a client with other
      // code (another hash) is checked again.
      const known = `${task.name}@${task.module}#${task.hash}`;
      let fn = this.#functions.get(known);
      if (fn === undefined) {
        fn = await resolveTask(task, this.#root, this.#worker) as Task;
        this.#functions.set(known, fn);
      }
      const payload = decodeValue(task.payload) as unknown[];
      const timeout = task.timeout > 0 ? task.timeout : undefined;
      const pool = this.pool;
      if (task.kind === CALL) {
        value = await pool.apply(fn, payload, { timeout, signal });
      } else {
        const options = {
          timeout,
          signal,
          chunksize: Math.max(1, payload.length),
        };
        value = task.kind === MAP
          ? await pool.map(fn, payload, options)
          : await pool.starmap(fn, payload as unknown[][], options);
      }
    } catch (error) {
      status = FAILED;
      value = error;
    }
    const runningMs = performance.now() - started;
    const service = runningMs / ahead;
    this.#serviceMs = average(this.#serviceMs, service);
    const key = `${task.name}@${task.module}`;
    this.#durations.set(key, average(this.#durations.get(key), service));
    return { status, value, runningMs };
  }
}

function average(mean: number | undefined, sample: number): number {
  return mean === undefined ? sample : mean * 0.9 + sample * 0.1;
}

/** Whether an error says the worker's code differs: not worth a retry. */
export function isVersionSkew(error: unknown): boolean {
  return error instanceof ProcessError &&
    error.message.includes("(version skew)");
}
