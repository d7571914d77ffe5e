/**
 * Python's `multiprocessing`, rebuilt for Deno: processes are actors in
 * worker threads, with Python's names in camelCase, promises for every wait
 * and milliseconds for every timeout.
 *
 * @example
 * ```ts
 * import { Process } from "@seed/multiprocessing";
 * import { greet } from "./tests/fixtures/targets.ts";
 *
 * const p = new Process({ target: greet, args: ["world"] });
 * p.start();
 * await p.join();
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export type { WaitOptions } from "./src/core/wait.ts";
export {
  activeChildren,
  cpuCount,
  currentProcess,
  exit,
  getpid,
  getppid,
  parentProcess,
  Process,
  type ProcessOptions,
} from "./src/process/process.ts";
export { type Callable, registerTargets } from "./src/runtime/targets.ts";
export {
  type ReduceContext,
  type Reducer,
  registerErrorClass,
  registerReducer,
} from "./src/core/reduction.ts";
export {
  type ApplyAsyncOptions,
  AsyncResult,
  type MapAsyncOptions,
  type MapOptions,
  Pool,
  type PoolOptions,
  type PoolStats,
  type TaskOptions,
} from "./src/pool/pool.ts";
export { Connection, type SendOptions } from "./src/connection/connection.ts";
export { Pipe } from "./src/connection/pipe.ts";
export { Listener, type ListenerOptions } from "./src/connection/listener.ts";
export { Client, type ClientOptions } from "./src/connection/client.ts";
export type {
  Address,
  SocketOptions,
  TcpAddress,
  TlsOptions,
  UnixAddress,
} from "./src/connection/_socket_options.ts";
export { type BlockOptions, Queue } from "./src/queues/queue.ts";
export { JoinableQueue } from "./src/queues/joinable_queue.ts";
export { SimpleQueue } from "./src/queues/simple_queue.ts";
export { Manager } from "./src/managers/managers.ts";
export { BaseProxy } from "./src/managers/proxies/base_proxy.ts";
export { DictProxy } from "./src/managers/proxies/dict_proxy.ts";
export { ListProxy } from "./src/managers/proxies/list_proxy.ts";
export { NamespaceProxy } from "./src/managers/proxies/namespace_proxy.ts";
export { ValueProxy } from "./src/managers/proxies/value_proxy.ts";
export { QueueProxy } from "./src/managers/proxies/queue_proxy.ts";
export {
  AcquirerProxy,
  ConditionProxy,
} from "./src/managers/proxies/acquirer_proxy.ts";
export { EventProxy } from "./src/managers/proxies/event_proxy.ts";
export { BarrierProxy } from "./src/managers/proxies/barrier_proxy.ts";
export {
  type AcquireOptions,
  Barrier,
  type BarrierOptions,
  BoundedSemaphore,
  Condition,
  type ConditionLock,
  Event,
  type Held,
  Lock,
  RLock,
  Semaphore,
} from "./src/synchronize/synchronize.ts";
export {
  CArray,
  CValue,
  type ElementOf,
  RawArray,
  type RawArrayFactory,
  RawValue,
  type RawValueFactory,
  SharedArray,
  type SharedArrayFactory,
  type SharedOptions,
  Synchronized,
  SynchronizedArray,
  type Typecode,
  Value,
  type ValueFactory,
  type View,
} from "./src/sharedctypes/sharedctypes.ts";
export {
  SharedMemory,
  type SharedMemoryOptions,
} from "./src/shared_memory/shared_memory.ts";
