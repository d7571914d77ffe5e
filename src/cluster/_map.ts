// How `map` and `imap` become tasks: the input cut into chunks of items,
// each encoded and submitted as one task, and the chunks' results put back
// together in order (map), or handed out as the loop asks (imap), a bounded
// number of chunks ahead.

import { ProcessError } from "../errors.ts";
import { describe } from "../core/describe.ts";
import type { Job, Task } from "./_jobs.ts";
import { Stream } from "./_jobs.ts";
import { encodeValue, MAP, STARMAP } from "./_layout.ts";
import type { PoolClient } from "./_pool_client.ts";
import type { TaskRef } from "./_targets.ts";

/** Checks a map's input and returns it as an array. */
export function mapItems(
  method: string,
  kind: number,
  iterable: unknown,
): unknown[] {
  if (
    typeof (iterable as Iterable<unknown>)?.[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      `Cannot call ${method}() as its second argument must be an iterable such as an array${
        typeof (iterable as AsyncIterable<unknown>)?.[Symbol.asyncIterator] ===
            "function"
          ? " (use imap() for async iterables)"
          : ""
      }: current value is ${describe(iterable)}`,
    );
  }
  const items = Array.isArray(iterable)
    ? iterable
    : Array.from(iterable as Iterable<unknown>);
  if (kind === STARMAP) {
    items.forEach((item, i) => {
      if (!Array.isArray(item)) {
        throw new TypeError(
          `Cannot call ${method}() as each item must be an array of arguments: current value at index ${i} is ${
            describe(item)
          }`,
        );
      }
    });
  }
  return items;
}

/** Encodes `items` in chunks (refusing what cannot cross, by its path). */
export function encodeChunks(
  items: unknown[],
  chunksize: number,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < items.length; start += chunksize) {
    chunks.push(
      encodeValue(
        items.slice(start, start + chunksize),
        `iterable (the chunk from index ${start})`,
      ),
    );
  }
  return chunks;
}

/** Submits a map's chunks for `job` and seals it with the joined results. */
export function submitChunks(
  client: PoolClient,
  job: Job,
  ref: TaskRef | Promise<TaskRef>,
  kind: number,
  chunks: Uint8Array[],
  length: number,
  timeout: number,
): void {
  const parts: ArrayLike<unknown>[] = new Array(chunks.length);
  chunks.forEach((chunk, i) => {
    if (job.failed) return;
    const sink = {
      done: (task: Task, ok: boolean, value: unknown) => {
        if (ok) parts[i] = value as ArrayLike<unknown>;
        job.done(task, ok, ok ? undefined : value);
      },
    };
    job.add(client.submit(ref, kind, chunk, timeout, sink));
  });
  job.seal(() => {
    // Filled in order, a preallocated array stays fast.
    const out: unknown[] = new Array(length);
    let o = 0;
    for (const part of parts) {
      for (let k = 0; k < part.length; k++) out[o++] = part[k];
    }
    return out;
  });
}

/** What an imap loop needs to know of its pool. */
export interface ImapHost {
  client: PoolClient;
  terminated(): boolean;
  /** Called when the loop starts and when it ends (join waits for loops). */
  loops(delta: 1 | -1): void;
}

/**
 * The results of an imap, in input order (`ordered`) or as they come:
 * reads the input lazily, twice the workers' processes ahead, and stops
 * reading it when the loop ends early.
 */
export async function* runImap(
  host: ImapHost,
  method: string,
  ref: TaskRef | Promise<TaskRef>,
  ordered: boolean,
  iterable: Iterable<unknown> | AsyncIterable<unknown>,
  chunksize: number,
  limits: { timeout: number; signal?: AbortSignal },
): AsyncGenerator<unknown> {
  if (host.terminated()) {
    throw new ProcessError(`Cannot run ${method}(): the pool was terminated`);
  }
  const { client } = host;
  const stream = new Stream(client, ordered, limits.signal);
  host.loops(1);
  const isAsync = typeof (iterable as AsyncIterable<unknown>)[
    Symbol.asyncIterator
  ] === "function";
  const iterator = isAsync
    ? (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]()
    : (iterable as Iterable<unknown>)[Symbol.iterator]();
  let exhausted = false;
  let next = 0;
  let position = 0;
  try {
    while (true) {
      stream.throwIfAborted();
      while (!exhausted && stream.pending < 2 * client.capacity) {
        const items: unknown[] = [];
        while (items.length < chunksize) {
          const step = await iterator.next();
          if (step.done) {
            exhausted = true;
            break;
          }
          items.push(step.value);
        }
        if (items.length === 0) break;
        if (host.terminated()) {
          throw new ProcessError(
            `Cannot go on with ${method}(): the pool was terminated`,
          );
        }
        const payload = encodeValue(
          items,
          `iterable (the chunk from item ${position})`,
        );
        position += items.length;
        stream.add(
          client.submit(ref, MAP, payload, limits.timeout, stream),
          next++,
        );
      }
      if (stream.pending === 0 && exhausted) return;
      const values = await stream.next();
      for (let k = 0; k < values.length; k++) yield values[k];
    }
  } finally {
    stream.stop();
    if (!exhausted) {
      try {
        await iterator.return?.();
      } catch { /* the input's own cleanup failed: nothing to report to */ }
    }
    host.loops(-1);
  }
}
