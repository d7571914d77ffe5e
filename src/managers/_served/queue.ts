// A managed Queue as the server holds it: a real `JoinableQueue` of this
// module, living in the server's process. Python's managed `Queue()` and
// `JoinableQueue()` are both a `queue.Queue`, which has `task_done()` and
// `join()`; both are a JoinableQueue here.
//
// Shaped for proxies: a waiting `put`/`get`/`join` is the queue's
// non-blocking method retried as the queue changes (see waiters.ts), so a
// withdrawn call leaves nothing in the queue, and `join` waits on the
// count of unfinished tasks, which the server keeps beside the queue (it
// makes every put and taskDone, so the count is the queue's own).

import { JoinableQueue } from "../../queues/joinable_queue.ts";
import { Empty, Full } from "../../errors.ts";
import { AGAIN } from "./waiters.ts";
import {
  type Call,
  deadlineOf,
  msOf,
  noSuchMethod,
  type Served,
  type ServerContext,
} from "./served.ts";

/** Python's managed Queue/JoinableQueue, served. */
export class ServedQueue implements Served {
  readonly queue: JoinableQueue<unknown>;
  readonly #context: ServerContext;
  #unfinished = 0;

  constructor(maxsize: number, context: ServerContext) {
    this.queue = new JoinableQueue(maxsize);
    this.#context = context;
  }

  invoke(method: string, args: unknown[], call: Call): unknown {
    const queue = this.queue;
    switch (method) {
      case "put": {
        const [item, options] = args;
        const deadline = deadlineOf(options);
        // An unbounded queue has room: no waiting call to make.
        if (deadline === 0 || queue.maxsize === 0) return this.#put(item);
        return this.#context.waiters.wait(
          this,
          () => queue.full() ? AGAIN : this.#put(item),
          deadline,
          () => {
            throw new Full(
              `The queue stayed full (maxsize ${queue.maxsize}) for ${
                msOf(options)
              }`,
            );
          },
          call,
        );
      }
      case "get": {
        const options = args[0];
        const deadline = deadlineOf(options);
        if (deadline === 0) return queue.getNowait();
        return this.#context.waiters.wait(
          this,
          () => queue.empty() ? AGAIN : queue.getNowait(),
          deadline,
          () => {
            throw new Empty(`The queue stayed empty for ${msOf(options)}`);
          },
          call,
        );
      }
      case "qsize":
        return queue.qsize();
      case "empty":
        return queue.empty();
      case "full":
        return queue.full();
      case "taskDone":
        queue.taskDone(); // throws as a local queue does when called too often
        this.#unfinished--;
        return;
      case "join":
        return this.#context.waiters.wait(
          this,
          () => this.#unfinished === 0 ? undefined : AGAIN,
          Infinity,
          () => undefined,
          call,
        );
      default:
        throw noSuchMethod("Queue", method);
    }
  }

  #put(item: unknown): void {
    this.queue.putNowait(item); // throws Full as a local queue does
    this.#unfinished++;
  }
}
