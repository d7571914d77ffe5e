/**
 * How a target reaches a worker. A worker cannot receive a function: it
 * imports the module that defines it and looks it up by name, as Python's
 * spawn start method re-imports the main module in the child.
 *
 * - A function or class exported from the main module needs nothing more.
 * - One exported from any other module is named in that module with one
 *   line: `registerTargets(import.meta, { work, Worker })`.
 * - Anything else (a closure, an unexported function) is refused in the
 *   parent with an error that names it and says how to fix it.
 *
 * @module
 */

import { describe } from "../core/describe.ts";
import { mainModuleUrl } from "./_context.ts";

/** Where a worker finds a target: the module's URL and the export's name. */
export interface TargetLocator {
  /** The URL of the module that defines the target. */
  url: string;
  /** The name the module exports it under (or registered it under). */
  name: string;
  /** The function's source, checked in the worker for main-module exports. */
  source?: string;
}

/**
 * A function or class that a process can run (a target, a task), as
 * {@linkcode registerTargets} accepts them.
 *
 * @example
 * ```ts
 * import type { Callable } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const targets: Record<string, Callable> = { square: (x: number) => x * x };
 * assert.equal(typeof targets.square, "function");
 * ```
 */
// deno-lint-ignore ban-types
export type Callable = Function;

const registered = new Map<Callable, TargetLocator>();
const registeredByKey = new Map<string, Callable>();

/**
 * Makes functions and `Process` subclasses of a module other than the main
 * one usable as process targets and pool tasks: call it once in the module
 * that defines them, with `import.meta` (or the module's URL). The worker
 * imports that module, whose call registers them there too. Returns
 * `targets`, so it can wrap an export.
 *
 * @example In a module of tasks, beside the main program
 * ```ts
 * import { registerTargets } from "@seed/multiprocessing";
 *
 * export function square(x: number): number {
 *   return x * x;
 * }
 * registerTargets(import.meta, { square });
 * ```
 */
export function registerTargets<T extends Record<string, Callable>>(
  module: ImportMeta | string | URL,
  targets: T,
): T {
  const url = typeof module === "string"
    ? new URL(module).href
    : module instanceof URL
    ? module.href
    : typeof module?.url === "string"
    ? module.url
    : undefined;
  if (url === undefined) {
    throw new TypeError(
      `registerTargets expected import.meta or the module's URL as its first argument, received ${
        describe(module)
      }`,
    );
  }
  if (typeof targets !== "object" || targets === null) {
    throw new TypeError(
      `registerTargets expected an object of functions such as { work } as its second argument, received ${
        describe(targets)
      }`,
    );
  }
  for (const [name, target] of Object.entries(targets)) {
    if (typeof target !== "function") {
      throw new TypeError(
        `registerTargets expected targets.${name} to be a function or class, received ${
          describe(target)
        }`,
      );
    }
    const locator = { url, name };
    registered.set(target, locator);
    registeredByKey.set(`${name}@${url}`, target);
  }
  return targets;
}

/**
 * Finds where a worker can import `target` from, or throws a `TypeError`
 * that names it and says how to make it reachable. `role` words the error
 * ("target", "Process subclass", "task").
 */
export function locateTarget(target: Callable, role: string): TargetLocator {
  const known = registered.get(target);
  if (known !== undefined) return known;
  const main = mainModuleUrl();
  const name = target.name;
  const kind = isClass(target) ? "class" : "function";
  if (!name) {
    throw new TypeError(
      `the ${role} is an anonymous ${kind}, which a process cannot import: declare it with a name and export it from the main module, or register it with registerTargets(import.meta, { name }) in its own module`,
    );
  }
  const exported = main === undefined ? undefined : mainModuleExports(main);
  if (exported === undefined) {
    // The main module's source cannot be read here: the worker checks.
    return { url: main ?? "", name, source: String(target) };
  }
  const exportName = exported.get(name);
  if (exportName === undefined) {
    throw new TypeError(
      `the ${role} ${kind} "${name}" is not exported from the main module (${main}), so a process cannot import it: export it (\`export ${
        kind === "class" ? "class" : "function"
      } ${name}\`), or call registerTargets(import.meta, { ${name} }) in the module that defines it`,
    );
  }
  return { url: main!, name: exportName, source: String(target) };
}

/**
 * In a worker: imports the module a locator names and returns the target,
 * or throws a `TypeError` that says what was not found.
 */
export async function resolveTarget(
  locator: TargetLocator,
): Promise<Callable> {
  if (locator.url === "") {
    throw new TypeError(
      `cannot import "${locator.name}": the program has no main module URL`,
    );
  }
  const namespace = await import(locator.url);
  const target = registeredByKey.get(`${locator.name}@${locator.url}`) ??
    namespace[locator.name];
  if (typeof target !== "function") {
    throw new TypeError(
      `"${locator.name}" is not exported from ${locator.url} as a function or class, so this process cannot run it: export it, or register it with registerTargets(import.meta, { ${locator.name} })`,
    );
  }
  if (locator.source !== undefined && String(target) !== locator.source) {
    throw new TypeError(
      `the export "${locator.name}" of ${locator.url} is not the function given to the process (a local function shadows it?): give the process the exported one, or register the other with registerTargets()`,
    );
  }
  return target;
}

function isClass(value: Callable): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(value));
}

const exportsCache = new Map<string, Map<string, string> | undefined>();

/**
 * Reads the names the main module exports, from its source, so that
 * `start()` can refuse an unexported target synchronously: a module's
 * namespace is only reachable through an asynchronous `import()`. The
 * worker confirms the match against the function's source.
 */
function mainModuleExports(url: string): Map<string, string> | undefined {
  if (exportsCache.has(url)) return exportsCache.get(url);
  let names: Map<string, string> | undefined;
  if (url.startsWith("file:")) {
    try {
      names = scanExports(Deno.readTextFileSync(new URL(url)));
    } catch {
      names = undefined;
    }
  }
  exportsCache.set(url, names);
  return names;
}

/** Maps each local name the source exports to its exported name. */
export function scanExports(source: string): Map<string, string> {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1");
  const names = new Map<string, string>();
  const declaration =
    /\bexport\s+(default\s+)?(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\s*\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)/g;
  for (const match of code.matchAll(declaration)) {
    names.set(match[2], match[1] ? "default" : match[2]);
  }
  if (/\bexport\s+default\s+(?:async\s+)?(?:function|class)\b/.test(code)) {
    names.set("default", "default"); // an anonymous default export
  }
  for (const match of code.matchAll(/\bexport\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of match[1].split(",")) {
      const [local, exported] = part.trim().replace(/^type\s+/, "").split(
        /\s+as\s+/,
      );
      if (local) names.set(local.trim(), (exported ?? local).trim());
    }
  }
  return names;
}
