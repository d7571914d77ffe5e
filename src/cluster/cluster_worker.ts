/**
 * The `cluster-worker` program: serves a `ClusterPool` name with a local
 * `Pool` of this module, until SIGINT or SIGTERM, when it releases the
 * tasks it holds to the other workers and exits.
 *
 * ```sh
 * deno run --allow-read --allow-net --allow-env \
 *   jsr:@seed/multiprocessing/cluster-worker \
 *   --connect redis://HOST:6379 --name default --processes 4
 * ```
 *
 * Flags: `--connect URL` (or `MULTIPROCESSING_REDIS_URL`), `--name NAME`,
 * `--processes N`, `--prefetch N`, `--root DIR` (the folder task modules
 * are found under, the same code as on the clients; the current
 * directory), `--max-tasks-per-child N`, `--tls-ca FILE` (a CA for
 * `rediss://`), `--quiet`.
 *
 * Imported rather than run, it exports {@linkcode ClusterWorker}.
 *
 * @example Serving a pool from a program
 * ```ts
 * import { ClusterWorker } from "@seed/multiprocessing/cluster-worker";
 *
 * const url = Deno.env.get("MULTIPROCESSING_REDIS_URL");
 * if (url !== undefined) {
 *   const worker = await ClusterWorker.start(url, { name: "docs-main", processes: 1 });
 *   await worker.stop();
 * }
 * ```
 *
 * @module
 */

import { ClusterWorker, type ClusterWorkerOptions } from "./worker.ts";

export {
  ClusterWorker,
  type ClusterWorkerOptions,
  type ClusterWorkerStats,
} from "./worker.ts";
export type { ClusterTls } from "./_redis.ts";

const USAGE =
  `usage: cluster-worker --connect redis://HOST:PORT [--name NAME] [--processes N] [--prefetch N] [--root DIR] [--max-tasks-per-child N] [--tls-ca FILE] [--quiet]`;

/** Reads the program's flags; throws a `TypeError` with the usage line. */
function parseFlags(args: string[]): {
  url: string;
  options: ClusterWorkerOptions;
  quiet: boolean;
} {
  const values = new Map<string, string>();
  let quiet = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--quiet") {
      quiet = true;
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (match === null) {
      throw new TypeError(`unexpected argument "${arg}"\n${USAGE}`);
    }
    const value = match[2] ?? args[++i];
    if (value === undefined) {
      throw new TypeError(`--${match[1]} needs a value\n${USAGE}`);
    }
    values.set(match[1], value);
  }
  const known = [
    "connect",
    "name",
    "processes",
    "prefetch",
    "root",
    "max-tasks-per-child",
    "tls-ca",
  ];
  for (const flag of values.keys()) {
    if (!known.includes(flag)) {
      throw new TypeError(`unknown flag --${flag}\n${USAGE}`);
    }
  }
  const url = values.get("connect") ??
    Deno.env.get("MULTIPROCESSING_REDIS_URL");
  if (url === undefined) {
    throw new TypeError(
      `--connect is missing (or set MULTIPROCESSING_REDIS_URL)\n${USAGE}`,
    );
  }
  const number = (flag: string) => {
    const text = values.get(flag);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n)) {
      throw new TypeError(
        `--${flag} must be a whole number, not "${text}"\n${USAGE}`,
      );
    }
    return n;
  };
  const ca = values.get("tls-ca");
  return {
    url,
    quiet,
    options: {
      name: values.get("name"),
      processes: number("processes"),
      prefetch: number("prefetch"),
      root: values.get("root"),
      maxTasksPerChild: number("max-tasks-per-child"),
      tls: ca === undefined ? undefined : { ca: Deno.readTextFileSync(ca) },
    },
  };
}

async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(args);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const log = flags.quiet
    ? () => {}
    : (line: string) => console.error(`cluster-worker: ${line}`);
  let worker: ClusterWorker;
  try {
    worker = await ClusterWorker.start(flags.url, { ...flags.options, log });
  } catch (error) {
    console.error(`cluster-worker: ${(error as Error).message}`);
    return 1;
  }
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) Deno.exit(130); // a second signal: at once
    log("stopping: releasing the tasks it holds");
    worker.stop();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  // The one line tests and scripts wait for.
  console.error(`cluster-worker: ${worker.consumer} ready`);
  await worker.stopped;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  log("stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
