// How proxies cross between processes (registered with the codec's
// reducers, so every path carries them).
//
// A live proxy crossing into a process brings a new connection to its
// server: a port whose other end the server receives (see
// Connection.open). A proxy stored in a managed object is held by the
// server as a `ProxyReference` (what it stands for, no connection), and
// read back, in any process, as a live proxy on that process's own
// connection to the manager. A process keeps one connection per manager.

import type { MessagePort } from "node:worker_threads";
import { registerReducer } from "../../core/reduction.ts";
import { valueIdentity } from "../_served/identity.ts";
import { Connection, connectionTo } from "../_client.ts";
import { BaseProxy, targetOf } from "./base_proxy.ts";
import { makeProxy } from "./_types.ts";

/** What crosses for a proxy. */
interface ProxyState {
  /** The manager's id. */
  m: string;
  /** Its server's pid. */
  s: number;
  /** The object's type id and id. */
  t: string;
  i: number;
  /** For a live proxy: the server's doorbell and a new connection's port. */
  door?: SharedArrayBuffer;
  port?: MessagePort;
}

// The managers this process serves: a proxy of theirs arriving here is
// held as a reference, not as a connection of the server to itself.
const servedHere = new Set<string>();

/** Records that this process is the server of manager `id`. */
export function serveHere(id: string): void {
  servedHere.add(id);
}

/** A proxy as its manager's server holds it: what it stands for. */
export class ProxyReference {
  readonly state: ProxyState;

  constructor(state: ProxyState) {
    this.state = { m: state.m, s: state.s, t: state.t, i: state.i };
  }

  /** The same value as every proxy of the same object. */
  [valueIdentity](): string {
    return `${this.state.m}#${this.state.i}`;
  }
}

function revive(state: ProxyState): BaseProxy | ProxyReference {
  if (servedHere.has(state.m)) {
    state.port?.close();
    return new ProxyReference(state);
  }
  let connection = connectionTo(state.m);
  if (state.port !== undefined) {
    if (connection === undefined) {
      connection = new Connection(state.m, state.s, state.door!, state.port);
    } else {
      state.port.close(); // this process already talks to that manager
    }
  }
  if (connection === undefined) {
    throw new TypeError(
      `Cannot read back a proxy of manager ${state.m}: this process has no connection to it (pass such a proxy to the process directly)`,
    );
  }
  return makeProxy({ connection, typeid: state.t, id: state.i });
}

registerReducer<BaseProxy, ProxyState>({
  name: "multiprocessing.managers.Proxy",
  type: BaseProxy,
  reduce(proxy, context) {
    const { connection, typeid, id } = targetOf(proxy);
    const port = connection.open();
    context.transfer(port as unknown as Transferable);
    return {
      m: connection.managerId,
      s: connection.serverPid,
      t: typeid,
      i: id,
      door: connection.door,
      port,
    };
  },
  revive: (state) => revive(state) as BaseProxy,
});

registerReducer<ProxyReference, ProxyState>({
  name: "multiprocessing.managers.ProxyReference",
  type: ProxyReference,
  reduce: (reference) => reference.state,
  revive: (state) => revive(state) as ProxyReference,
});
