// Which proxy class stands for each type id (Python's `proxytype` of
// `SyncManager.register`).

import { AcquirerProxy, ConditionProxy } from "./acquirer_proxy.ts";
import { BarrierProxy } from "./barrier_proxy.ts";
import {
  type BaseProxy,
  issueProxy,
  type ProxyTarget,
  type ProxyType,
} from "./base_proxy.ts";
import { DictProxy } from "./dict_proxy.ts";
import { EventProxy } from "./event_proxy.ts";
import { ListProxy } from "./list_proxy.ts";
import { NamespaceProxy } from "./namespace_proxy.ts";
import { QueueProxy } from "./queue_proxy.ts";
import { ValueProxy } from "./value_proxy.ts";

const PROXY_TYPES: Readonly<Record<string, ProxyType>> = {
  dict: DictProxy,
  list: ListProxy,
  Namespace: NamespaceProxy,
  Queue: QueueProxy,
  JoinableQueue: QueueProxy,
  Value: ValueProxy,
  Lock: AcquirerProxy,
  RLock: AcquirerProxy,
  Semaphore: AcquirerProxy,
  Event: EventProxy,
  Condition: ConditionProxy,
  Barrier: BarrierProxy,
};

/** The proxy of the object `target` names. */
export function makeProxy(target: ProxyTarget): BaseProxy {
  const type = PROXY_TYPES[target.typeid];
  if (type === undefined) {
    throw new TypeError(
      `Cannot make a proxy as this process knows no proxy type for '${target.typeid}'`,
    );
  }
  return issueProxy(type, target);
}
