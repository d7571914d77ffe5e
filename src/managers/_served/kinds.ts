// The kinds of object a manager serves, by Python's type ids
// (`SyncManager.register("Queue", queue.Queue)`, …): how the server makes
// one from the arguments a `Manager` method sent. A kind registered later
// (a user's class) is one more entry whose object the server calls.

import { ServedBarrier } from "./barrier.ts";
import { ServedCondition } from "./condition.ts";
import { ServedDict } from "./dict.ts";
import { ServedEvent } from "./event.ts";
import { ServedList } from "./list.ts";
import { ServedLock } from "./lock.ts";
import { ServedNamespace } from "./namespace.ts";
import { ServedQueue } from "./queue.ts";
import { ServedSemaphore } from "./semaphore.ts";
import type { Served, ServerContext } from "./served.ts";
import { ServedValue } from "./value.ts";

/** Makes a served object from its creation arguments. */
export type Factory = (args: unknown[], context: ServerContext) => Served;

/** Python's type ids of the objects a manager serves. */
export type Typeid =
  | "dict"
  | "list"
  | "Namespace"
  | "Queue"
  | "JoinableQueue"
  | "Value"
  | "Lock"
  | "RLock"
  | "Semaphore"
  | "Event"
  | "Condition"
  | "Barrier";

/** The factories, by type id. */
export const KINDS: Readonly<Record<Typeid, Factory>> = {
  dict: ([entries]) => new ServedDict(entries as [unknown, unknown][]),
  list: ([items]) => new ServedList(items as unknown[]),
  Namespace: ([init]) => new ServedNamespace(init as Record<string, unknown>),
  Queue: ([maxsize], context) => new ServedQueue(maxsize as number, context),
  JoinableQueue: ([maxsize], context) =>
    new ServedQueue(maxsize as number, context),
  Value: ([typecode, value]) => new ServedValue(typecode as string, value),
  Lock: (_args, context) => new ServedLock(false, context),
  RLock: (_args, context) => new ServedLock(true, context),
  Semaphore: ([value], context) =>
    new ServedSemaphore(value as number, context),
  Event: (_args, context) => new ServedEvent(context),
  Condition: ([lockId], context) => {
    if (lockId === null || lockId === undefined) {
      return new ServedCondition(new ServedLock(true, context), context);
    }
    const lock = context.lookup(lockId as number);
    if (!(lock instanceof ServedLock)) {
      throw new TypeError(
        `Cannot create a Condition as 'lock' must be a Lock or RLock of this manager: object #${lockId} is not`,
      );
    }
    return new ServedCondition(lock, context);
  },
  Barrier: ([parties]) => new ServedBarrier(parties as number),
};

/** Whether `typeid` names a kind this server makes. */
export function isTypeid(typeid: unknown): typeid is Typeid {
  return typeof typeid === "string" && Object.hasOwn(KINDS, typeid);
}
