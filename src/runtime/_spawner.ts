// The spawner: the main thread creates the worker thread of every process
// in the program, the way Python's forkserver forks every child, and keeps
// a warm spare. A process that starts children of its own asks the main
// thread over its control port and hears back when they end.
//
// Why the main thread, measured on Deno 2.9.6: a node worker created by
// another worker takes ~550 ms to boot (one created by the main thread,
// ~35 ms), so a dedicated spawner thread would make every cold start slow.
// Creating a worker blocks the creating thread for those ~35 ms; the main
// thread pays that once per process (and once more to refill the spare).
//
// Why every message to and from a child goes over a MessagePort rather than
// `worker.postMessage`/`parentPort`: those are the ones that showed ~500 ms
// first-message delays between threads, while ports deliver at once.

import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from "node:worker_threads";
import { EXIT_KEY } from "./_context.ts";
import {
  processEnded,
  serve,
  type ShmRequest,
} from "../shared_memory/_directory.ts";

/** A request from a process to the spawner, over its control port. */
export type SpawnerRequest =
  | {
    op: "start";
    pid: number;
    name: string;
    daemon: boolean;
    message: unknown;
    transfer: Transferable[];
  }
  | { op: "terminate"; pid: number }
  | { op: "hold"; pid: number; delta: 1 | -1 }
  | { op: "ready"; token: number }
  | {
    op: "shm";
    pid: number;
    request: ShmRequest;
    /** With `reply`: the asker blocks until the answer (see askSpawner). */
    seq?: number;
    /** One Int32 the spawner sets to `seq` once the answer is posted. */
    reply?: SharedArrayBuffer;
  };

/** A notice from the spawner to a process. */
export type SpawnerNotice =
  | { op: "exit"; pid: number; code: number }
  | { op: "ready"; token: number }
  | { op: "reply"; seq: number; value: unknown };

/** What a child posts on its control port: requests, or news of itself. */
type ChildMessage =
  | SpawnerRequest
  | { booted: true }
  | { [EXIT_KEY]: number };

/** Who started a child: told when it ends. */
export type Notify = (notice: SpawnerNotice) => void;

interface Thread {
  worker: Worker;
  /** The main thread's end of the child's control port. */
  port: MessagePort;
  booted: Promise<void>;
  /** Dispatches one message the child posted. */
  receive?: (message: ChildMessage) => void;
  /** Set once the thread runs a process. */
  running?: { pid: number; daemon: boolean; holds: number; notify: Notify };
}

/** Spares kept ready. One: each refill blocks the main thread ~35 ms. */
const SPARES = 1;

/**
 * How long after the last start the spare is refilled: long enough for a
 * short child to end and be joined before the ~35 ms stall.
 */
const REFILL_DELAY_MS = 15;

/** The main thread's spawner; see the file comment. */
export class Spawner {
  readonly #entry: URL;
  readonly #boot: Record<string, unknown>;
  readonly #spares: Thread[] = [];
  readonly #running = new Map<number, Thread>();

  constructor(entry: URL, boot: Record<string, unknown>) {
    this.#entry = entry;
    this.#boot = boot;
  }

  #create(): Thread {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(
      this.#entry,
      {
        workerData: { ...this.#boot, controlPort: port2 },
        transferList: [port2],
      } as ConstructorParameters<typeof Worker>[1],
    );
    // Idle threads and their ports never keep the program alive; a running
    // non-daemon process refs its worker (see #updateRef).
    worker.unref();
    port1.unref();
    let resolveBooted!: () => void;
    const booted = new Promise<void>((resolve) => (resolveBooted = resolve));
    const thread: Thread = { worker, port: port1, booted };
    worker.once("exit", () => resolveBooted());
    thread.receive = (message: ChildMessage) => {
      if ("op" in message) {
        this.handle(message, (notice) => port1.postMessage(notice));
      } else if ("booted" in message) {
        resolveBooted();
      } else if (EXIT_KEY in message) {
        this.#ended(thread, message[EXIT_KEY]);
      }
    };
    port1.on("message", thread.receive);
    port1.unref(); // on() refs a port again
    worker.on("exit", (code: number) => this.#ended(thread, code));
    return thread;
  }

  #draining = false;

  /**
   * Takes in at once every message running processes have already posted,
   * in each port's order, as the listeners would later. A name lookup that
   * misses calls it first: a block created in a process, whose name then
   * reached another one by a faster path (a Pipe, a Queue), is registered
   * by a message that may still wait in its creator's port.
   */
  drainPending(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (const thread of [...this.#running.values()]) {
        let received;
        while (
          this.#running.get(thread.running!.pid) === thread &&
          (received = receiveMessageOnPort(thread.port as never)) !== undefined
        ) {
          thread.receive!(received.message as ChildMessage);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #refillTimer?: ReturnType<typeof setTimeout>;

  #scheduleRefill(): void {
    clearTimeout(this.#refillTimer);
    this.#refillTimer = setTimeout(() => {
      this.#refillTimer = undefined;
      if (this.#spares.length < SPARES) this.#spares.push(this.#create());
    }, REFILL_DELAY_MS);
    // The refill must not keep the program alive.
    Deno.unrefTimer(this.#refillTimer as unknown as number);
  }

  /** Ends the spares, so that the next start is cold (benchmarks use it). */
  async dropSpares(): Promise<void> {
    clearTimeout(this.#refillTimer);
    await Promise.all(this.#spares.splice(0).map((s) => s.worker.terminate()));
  }

  /** Serves a request of a process (or of the main program itself). */
  handle(request: SpawnerRequest, notify: Notify): void {
    switch (request.op) {
      case "start":
        return this.#start(request, notify);
      case "terminate": {
        // The process is reported ended only once its thread has stopped
        // (the child holds a Web Lock, see _child_entry.ts): nothing it
        // shared can be touched by it after its peers hear of its end.
        const thread = this.#running.get(request.pid);
        if (thread === undefined) return;
        void thread.worker.terminate().then(() => this.#ended(thread, 1));
        return;
      }
      case "hold": {
        const thread = this.#running.get(request.pid);
        if (thread?.running) {
          thread.running.holds += request.delta;
          this.#updateRef(thread);
        }
        return;
      }
      case "ready":
        while (this.#spares.length < SPARES) this.#spares.push(this.#create());
        // Whoever waits for the spares keeps the program alive meanwhile.
        for (const spare of this.#spares) spare.port.ref();
        void Promise.all(this.#spares.map((s) => s.booted)).then(() => {
          for (const spare of this.#spares) spare.port.unref();
          notify({ op: "ready", token: request.token });
        });
        return;
      case "shm":
        return this.#shm(request, notify);
    }
  }

  #shm(request: Extract<SpawnerRequest, { op: "shm" }>, notify: Notify): void {
    const { pid, seq, reply } = request;
    // A process that has ended holds nothing (its late messages are moot).
    const known = pid === Deno.pid || this.#running.has(pid);
    let value = known ? serve(pid, request.request) : undefined;
    if (
      known && value === undefined && request.request.kind === "lookup"
    ) {
      this.drainPending();
      value = serve(pid, request.request);
    }
    if (reply === undefined || seq === undefined) return;
    // Posted first, flagged second: once the asker sees the flag, the
    // answer is in its port.
    notify({ op: "reply", seq, value });
    const flag = new Int32Array(reply);
    Atomics.store(flag, 0, seq);
    Atomics.notify(flag, 0);
  }

  #start(
    request: Extract<SpawnerRequest, { op: "start" }>,
    notify: Notify,
  ): void {
    const thread = this.#spares.shift() ?? this.#create();
    thread.running = {
      pid: request.pid,
      daemon: request.daemon,
      holds: 0,
      notify,
    };
    this.#running.set(request.pid, thread);
    this.#updateRef(thread);
    thread.worker.on("error", (error: unknown) => {
      // The bootstrap reports the process's own errors; this one escaped it
      // (its modules failed to load).
      console.error(
        `Process ${request.name}:\n${Deno.inspect(error, { colors: false })}`,
      );
    });
    // At once, even to a thread still booting: the message waits in the
    // port, and the caller may close its ends of the ports it sends (a
    // transfer after that would fail).
    thread.port.postMessage(request.message, request.transfer as never[]);
    this.#scheduleRefill();
  }

  /** A running non-daemon process, or one being joined, keeps the program alive. */
  #updateRef(thread: Thread): void {
    const running = thread.running!;
    if (!running.daemon || running.holds > 0) thread.worker.ref();
    else thread.worker.unref();
  }

  #ended(thread: Thread, code: number): void {
    const running = thread.running;
    if (running === undefined) {
      // A spare that died idle is dropped, never handed out.
      const index = this.#spares.indexOf(thread);
      if (index !== -1) this.#spares.splice(index, 1);
      return;
    }
    if (!this.#running.has(running.pid)) return;
    this.#running.delete(running.pid);
    processEnded(running.pid);
    thread.worker.unref();
    thread.port.close();
    running.notify({ op: "exit", pid: running.pid, code });
  }
}
