// The pool's fast path: one task and its result travel through a
// SharedArrayBuffer "slot" per worker instead of a MessagePort.
//
// Why: a MessagePort round trip costs ~50-80 µs here (structured clone and
// an event-loop wake-up on each side), while writing a few bytes, storing a
// sequence number with `Atomics.store` and seeing it from a thread that
// spins briefly costs ~1 µs. The pool uses the slot only for a single task
// handed to an idle, ready worker, with plain data that fits (see
// `writeValue`); everything else keeps the port.
//
// Protocol (cells of the header, all Int32):
// - the pool writes the task (function index, kind, id, encoded arguments),
//   then `Atomics.store(H_TASK, seq)` and `Atomics.notify(H_TASK)`;
// - the worker, idle, spins briefly on H_TASK after its last task, blocks a
//   moment in `Atomics.wait`, then parks in `Atomics.waitAsync` (its event
//   loop stays free for port messages and timers); it decodes the
//   arguments, runs the task, writes the result (or sends it through the
//   port when it does not fit: status PORTED), then
//   `Atomics.store(H_DONE, seq)` and `Atomics.notify(H_DONE)`;
// - the pool spins briefly on H_DONE, blocks a moment, then parks in
//   `Atomics.waitAsync`.
// Spinning is fastest when both threads have a core (~1 µs a round trip);
// a bounded `Atomics.wait` wakes in a few µs and, unlike a spinner, leaves
// the core to the other thread when they share one (a loaded machine);
// `waitAsync` costs ~20-80 µs to wake, so it is the last resort.
// The sequence numbers only grow (wrapping well before 2^31), so a waiter
// compares with the number it expects, never with "changed".

/** Bytes of a slot: the header and the data. */
export const SLOT_BYTES = 64 * 1024;

/** Header cells. */
export const H_TASK = 0;
export const H_DONE = 1;
export const H_FN = 2;
export const H_KIND = 3;
export const H_ID = 4;
export const H_STATUS = 5;
const HEADER_BYTES = 8 * 4;

/** `H_STATUS` of a finished task: its result is in the slot, or in the port. */
export const IN_SLOT = 1;
export const PORTED = 2;

/**
 * What went through slots from this thread: tasks handed over, and their
 * results that did not fit and came back by port. Read by tests.
 */
export const slotCounters = { tasks: 0, portedResults: 0 };

/** Encoded value tags. */
const UNDEFINED = 0;
const NULL = 1;
const FALSE = 2;
const TRUE = 3;
const NUMBER = 4;
const STRING = 5;
const ARRAY = 6;
const OBJECT = 7;

/** Deeper values are left to structured clone (a cycle ends here too). */
const MAX_DEPTH = 32;

/** Views over one slot's buffer. */
export interface Slot {
  readonly cells: Int32Array;
  readonly view: DataView;
  readonly units: Uint16Array;
}

/** A new slot's header cells; its buffer is shared with the worker. */
export function createSlotCells(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(SLOT_BYTES));
}

/** Views over the slot whose header is `cells`. */
export function openSlot(cells: Int32Array): Slot {
  const buffer = cells.buffer as SharedArrayBuffer;
  return {
    cells,
    view: new DataView(buffer),
    units: new Uint16Array(buffer),
  };
}

/**
 * Spins until `cells[index]` is `expected`, at most `ms` milliseconds;
 * returns whether it is. Brief by design: 2 cores may be shared.
 */
export function spinFor(
  cells: Int32Array,
  index: number,
  expected: number,
  ms: number,
): boolean {
  if (Atomics.load(cells, index) === expected) return true;
  const until = performance.now() + ms;
  for (;;) {
    // Reading the clock costs more than a load: look at it now and then.
    for (let i = 0; i < 64; i++) {
      if (Atomics.load(cells, index) === expected) return true;
    }
    if (performance.now() >= until) return false;
  }
}

/**
 * Spins while `cells[index]` is `value`, at most `ms` milliseconds; returns
 * the value it last read.
 */
export function spinWhile(
  cells: Int32Array,
  index: number,
  value: number,
  ms: number,
): number {
  let now = Atomics.load(cells, index);
  if (now !== value) return now;
  const until = performance.now() + ms;
  for (;;) {
    for (let i = 0; i < 64; i++) {
      now = Atomics.load(cells, index);
      if (now !== value) return now;
    }
    if (performance.now() >= until) return now;
  }
}

/**
 * Whether to spin before parking, learnt from the last attempts: spinning
 * pays only while the other side answers within the spin. On a loaded
 * machine (more runnable threads than cores) it rarely does, and a spinner
 * takes CPU from the very thread it waits for; then this stops spinning
 * and tries again now and then (every 16th time).
 */
export class SpinPolicy {
  #misses = 0;
  #skipped = 0;

  /** Whether to spin this time. */
  shouldSpin(): boolean {
    if (this.#misses < 2) return true;
    return (++this.#skipped & 15) === 0;
  }

  /** Records whether a spin saw what it waited for. */
  record(hit: boolean): void {
    this.#misses = hit ? 0 : this.#misses + 1;
  }
}

let view: DataView;
let units: Uint16Array;
let pos = 0;
let end = 0;
const seen = new Set<object>();

/**
 * Writes `value` into the slot's data when it is small plain data: numbers,
 * strings, booleans, null, undefined, and arrays and plain objects of those
 * (no holes, no extra properties, no shared or cyclic references, as
 * structured clone would keep them). Returns false for anything else, when
 * it does not fit, or when a getter throws: the caller then uses the port,
 * which keeps every other guarantee (and reports that getter's error).
 */
export function writeValue(slot: Slot, value: unknown): boolean {
  view = slot.view;
  units = slot.units;
  pos = HEADER_BYTES;
  end = slot.view.byteLength;
  seen.clear();
  try {
    return put(value, 0);
  } catch {
    return false;
  } finally {
    seen.clear();
  }
}

function put(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "number":
      if (pos + 9 > end) return false;
      view.setUint8(pos, NUMBER);
      view.setFloat64(pos + 1, value as number);
      pos += 9;
      return true;
    case "string":
      return putString(value as string);
    case "boolean":
      return putTag(value ? TRUE : FALSE);
    case "undefined":
      return putTag(UNDEFINED);
    case "object": {
      if (value === null) return putTag(NULL);
      if (depth >= MAX_DEPTH || seen.has(value as object)) return false;
      seen.add(value as object);
      if (Array.isArray(value)) {
        const n = value.length;
        // Holes and named properties would be lost: leave those to clone.
        if (Object.keys(value).length !== n || pos + 5 > end) return false;
        view.setUint8(pos, ARRAY);
        view.setUint32(pos + 1, n);
        pos += 5;
        for (let i = 0; i < n; i++) {
          const item = value[i];
          if (item === undefined && !(i in value)) return false;
          if (!put(item, depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      const keys = Object.keys(value as object);
      if (pos + 5 > end) return false;
      view.setUint8(pos, OBJECT);
      view.setUint32(pos + 1, keys.length);
      pos += 5;
      for (const key of keys) {
        if (!putString(key)) return false;
        if (!put((value as Record<string, unknown>)[key], depth + 1)) {
          return false;
        }
      }
      return true;
    }
    default:
      return false; // bigint, symbol, function: the port path decides
  }
}

function putTag(tag: number): boolean {
  if (pos + 1 > end) return false;
  view.setUint8(pos++, tag);
  return true;
}

function putString(s: string): boolean {
  // UTF-16 code units, as the string holds them: exact for any string
  // (UTF-8 would turn a lone surrogate into U+FFFD), and no encoder call.
  const n = s.length;
  const start = (pos + 5 + 1) & ~1; // units are 2-byte aligned
  if (start + 2 * n > end) return false;
  view.setUint8(pos, STRING);
  view.setUint32(pos + 1, n);
  const base = start >> 1;
  for (let i = 0; i < n; i++) units[base + i] = s.charCodeAt(i);
  pos = start + 2 * n;
  return true;
}

/** Reads the value `writeValue` wrote into the slot. */
export function readValue(slot: Slot): unknown {
  view = slot.view;
  units = slot.units;
  pos = HEADER_BYTES;
  return get();
}

function get(): unknown {
  const tag = view.getUint8(pos++);
  switch (tag) {
    case NUMBER: {
      const value = view.getFloat64(pos);
      pos += 8;
      return value;
    }
    case STRING:
      return getString();
    case TRUE:
      return true;
    case FALSE:
      return false;
    case NULL:
      return null;
    case UNDEFINED:
      return undefined;
    case ARRAY: {
      const n = view.getUint32(pos);
      pos += 4;
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(get());
      return out;
    }
    case OBJECT: {
      const n = view.getUint32(pos);
      pos += 4;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = getString(true);
        const value = get();
        if (key === "__proto__") {
          // An own property, as structured clone makes it, not the prototype.
          Object.defineProperty(out, key, {
            value,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        } else {
          out[key] = value;
        }
      }
      return out;
    }
    default:
      throw new Error(`pool slot: unknown tag ${tag} (a bug)`);
  }
}

function getString(skipTag = false): string {
  if (skipTag) pos++;
  const n = view.getUint32(pos);
  const start = (pos + 4 + 1) & ~1;
  const base = start >> 1;
  pos = start + 2 * n;
  if (n <= 16) {
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(units[base + i]);
    return s;
  }
  let s = "";
  for (let i = 0; i < n; i += 8192) {
    s += String.fromCharCode.apply(
      null,
      units.subarray(base + i, base + Math.min(n, i + 8192)) as never,
    );
  }
  return s;
}
