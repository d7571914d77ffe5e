// How a task function reaches a worker on another machine: by module and
// export name, as it reaches a local worker (src/runtime/targets.ts), with
// the module named so that the other machine can find its own copy — a
// path relative to a root folder both sides agree on, or an absolute
// `https:`/`jsr:` URL — and a hash of the module's source, so that a worker
// whose copy differs refuses the task instead of running other code.

import { createHash } from "node:crypto";
import { ProcessError } from "../errors.ts";
import {
  type Callable,
  locateTarget,
  registerTargets,
  resolveTarget,
} from "../runtime/targets.ts";
import { describe } from "../core/describe.ts";

/** Where a worker finds a task: module, export name, source hash. */
export interface TaskRef {
  module: string;
  name: string;
  hash: string;
}

/** Checks a root folder (path or file URL) and returns its URL, ending in "/". */
export function rootUrl(method: string, root: unknown): URL {
  if (root === undefined) return directoryUrl(Deno.cwd());
  if (root instanceof URL || typeof root === "string") {
    const text = String(root);
    if (text.startsWith("file:")) {
      return new URL(text.endsWith("/") ? text : `${text}/`);
    }
    if (text !== "" && !/^[a-z][a-z0-9+.-]*:/i.test(text)) {
      return directoryUrl(text);
    }
  }
  throw new TypeError(
    `Cannot ${method} as 'options.root' must be a folder (a path or a file: URL) that holds the task modules on every machine: current value is ${
      describe(root)
    }`,
  );
}

function directoryUrl(path: string): URL {
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const url = new URL(`file://${absolute}`);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/** Whether a module name is an absolute URL (not a path under the root). */
function isAbsolute(module: string): boolean {
  return /^(https?|jsr):/.test(module);
}

/**
 * Finds where workers import `fn` from (a `TypeError` when they cannot: a
 * closure, an unexported function, a module outside `root`), without its
 * hash, which `taskRef` adds.
 */
export function locateTask(
  fn: Callable,
  root: URL,
): { url: string; module: string; name: string } {
  const { url, name } = locateTarget(fn, "task");
  if (url.startsWith("file:")) {
    if (!url.startsWith(root.href)) {
      throw new TypeError(
        `Cannot submit the task "${name}" as its module ${
          decodeURIComponent(new URL(url).pathname)
        } is outside the cluster's root ${
          decodeURIComponent(root.pathname)
        }: workers find modules by their path under that root, so pass { root } to connect() (the same folder of the code on every machine), or serve the module over https:`,
      );
    }
    return { url, module: url.slice(root.href.length), name };
  }
  if (isAbsolute(url)) return { url, module: url, name };
  throw new TypeError(
    `Cannot submit the task "${name}" as its module ${url} cannot be imported on another machine: define it in a file under the cluster's root, or in a module served over https:`,
  );
}

const hashes = new Map<string, Promise<string>>();

/**
 * The hash of a module's source, once per program (the code a program runs
 * is the code it loaded first): SHA-256 of a file's or an `https:`
 * module's bytes. A `jsr:` specifier names an immutable version: its text
 * stands for its source.
 */
export function sourceHash(url: string): Promise<string> {
  let known = hashes.get(url);
  if (known === undefined) {
    known = readSource(url).then((bytes) =>
      createHash("sha256").update(bytes).digest("hex").slice(0, 32)
    );
    hashes.set(url, known);
    known.catch(() => hashes.delete(url)); // a missing file may appear
  }
  return known;
}

async function readSource(url: string): Promise<Uint8Array> {
  if (url.startsWith("jsr:")) return new TextEncoder().encode(url);
  if (url.startsWith("file:")) return await Deno.readFile(new URL(url));
  const response = await fetch(url);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url} answered ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/** The full reference of a located task: its hash added. */
export async function taskRef(
  located: { url: string; module: string; name: string },
): Promise<TaskRef> {
  let hash: string;
  try {
    hash = await sourceHash(located.url);
  } catch (error) {
    throw new ProcessError(
      `Cannot submit the task "${located.name}": its module ${located.url} cannot be read to hash its source (${
        (error as Error).message
      })`,
      { cause: error },
    );
  }
  return { module: located.module, name: located.name, hash };
}

const resolved = new Map<string, Promise<Callable>>();

/**
 * In a worker: the function a task names, imported from this machine's
 * copy of its module, after checking that the copy is the client's (a
 * `ProcessError` saying "version skew" when it is not).
 */
export function resolveTask(
  ref: TaskRef,
  root: URL,
  worker: string,
): Promise<Callable> {
  const url = isAbsolute(ref.module)
    ? ref.module
    : new URL(ref.module, root).href;
  return checkHash(ref, url, worker).then(() => {
    const key = `${ref.name}@${url}`;
    let known = resolved.get(key);
    if (known === undefined) {
      known = resolveTarget({ url, name: ref.name }).then((fn) => {
        // The local pool finds it by this registration, even when the
        // module is some client's main module that registers nothing.
        registerTargets(url, { [ref.name]: fn });
        return fn;
      });
      resolved.set(key, known);
      known.catch(() => resolved.delete(key));
    }
    return known;
  });
}

async function checkHash(
  ref: TaskRef,
  url: string,
  worker: string,
): Promise<void> {
  let hash: string;
  try {
    hash = await sourceHash(url);
  } catch (error) {
    throw new ProcessError(
      `Cannot run the task "${ref.name}": worker ${worker} cannot read its module ${url} (${
        (error as Error).message
      }): deploy the code under the worker's root (--root), as on the client`,
      { cause: error },
    );
  }
  if (hash !== ref.hash) {
    throw new ProcessError(
      `Cannot run the task "${ref.name}" (version skew): the module ${ref.module} on worker ${worker} (source ${
        hash.slice(0, 12)
      }) differs from the client's (source ${
        ref.hash.slice(0, 12)
      }): deploy the same code everywhere, then restart the workers`,
    );
  }
}
