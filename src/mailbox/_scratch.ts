// Private byte buffers for encoding a message before it is put, and for a
// taken record before it is decoded, reused call after call. Safe when
// re-entered: a reducer's reduce or revive that itself sends or receives
// (a user class) borrows a fresh buffer instead of the one in use.

import { Writer } from "../core/codec.ts";

/** A buffer larger than this goes back to the collector, not kept. */
const KEPT_BYTES = 1 << 20;

/** One reusable Writer, lent to one call at a time. */
export class Scratch {
  #spare: Writer | undefined = new Writer();

  /** The spare Writer, or a new one while the spare is lent. */
  borrow(): Writer {
    const writer = this.#spare ?? new Writer();
    this.#spare = undefined;
    return writer;
  }

  /** Takes a borrowed Writer back (a large one is let go). */
  giveBack(writer: Writer): void {
    if (writer.bytes.length <= KEPT_BYTES) this.#spare = writer;
  }
}
