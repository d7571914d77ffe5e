// What an encoded message is made of: its bytes (written into a Writer),
// the format byte that starts them, and the sidecar of objects that cannot
// live in bytes. Shared by codec.ts and its two formats.

/** What cannot live in bytes, by index: shared buffers, ports, moved buffers. */
export type Sidecar = (SharedArrayBuffer | MessagePort | ArrayBuffer)[];

/** A growable, private byte buffer that messages are encoded into. */
export class Writer {
  /** The bytes written so far are `bytes[0, length)`. */
  bytes: Uint8Array;
  /** A view of `bytes`, for multi-byte fields. */
  view: DataView;
  /** How many bytes are written. */
  length = 0;

  /** Creates a writer with room for `size` bytes to start with. */
  constructor(size = 4096) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Makes room for `n` more bytes after `length`. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  /** The written bytes, as a view (valid until the next write). */
  written(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

// The first byte of every message says how the rest is encoded.
/** Written by the tag encoder (_tag_format.ts). */
export const FORMAT_TAGS = 1;
/** Written by V8's serializer after a reduce pass (_v8_format.ts). */
export const FORMAT_V8 = 2;
/** A message sent with `sendBytes`: its payload is raw bytes. */
export const FORMAT_BYTES = 3;

/** What a channel tells the encoders about itself (see `EncodeOptions`). */
export interface Channel {
  receiver?: number;
  bytesOnly?: string;
}

/**
 * The error for a registered object in a message from outside the program
 * (a socket's peer): its state would name shared memory of that program.
 */
export function refusedFromOutside(name: string, channel: string): TypeError {
  return new TypeError(
    `Cannot decode a message from ${channel}: it holds a ${name}, which only a process of the same program can send (its state is that program's shared memory)`,
  );
}
