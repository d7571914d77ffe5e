// Connections to Redis for the cluster: the only module that imports the
// client library (ioredis, pinned), so that the rest of src/cluster speaks
// in this module's terms and the core keeps no npm dependency.
//
// Why ioredis: it runs under Deno's Node compatibility (measured on Deno
// 2.9.6), returns binary replies as Buffers (`…Buffer` commands), pipelines
// automatically, reconnects by itself and re-sends what was in flight.

// Inline and pinned rather than in an import map: the module then works
// however it is imported (JSR, a URL, a local path).
// deno-lint-ignore no-import-prefix
import { Redis } from "npm:ioredis@5.11.1";
import { describe } from "../core/describe.ts";
import { ProcessError } from "../errors.ts";
import { checkTimeout, within } from "../core/wait.ts";

/** A connection to Redis. */
export type RedisClient = InstanceType<typeof Redis>;

/**
 * TLS settings for a `rediss://` URL, as Node's `tls.connect` takes them
 * (PEM text): a private CA, a client certificate.
 *
 * @example Trusting a private certificate authority
 * ```ts
 * import type { ClusterTls } from "@seed/multiprocessing/cluster";
 *
 * const tls: ClusterTls = { ca: "-----BEGIN CERTIFICATE-----\n…" };
 * console.assert(typeof tls.ca === "string");
 * ```
 */
export interface ClusterTls {
  /** Certificates of the authorities to trust (PEM). */
  ca?: string | string[];
  /** A client certificate (PEM), for servers that ask for one. */
  cert?: string;
  /** The client certificate's private key (PEM). */
  key?: string;
  /** The name to check the server's certificate against. */
  servername?: string;
  /** `false` accepts any certificate (testing only). */
  rejectUnauthorized?: boolean;
}

/** How to reach Redis: options shared by `ClusterPool` and `ClusterQueue`. */
export interface ConnectionOptions {
  /** The longest `connect()` waits for the server, in ms; 10 s by default. */
  connectTimeout?: number;
  /** TLS settings for a `rediss://` URL. */
  tls?: ClusterTls;
}

/** The oldest server the cluster runs on (`BLMPOP`, `XPENDING … IDLE`). */
const MIN_VERSION = [7, 0];
const DEFAULT_CONNECT_TIMEOUT = 10_000;

/** A checked Redis URL and what to say about it in messages. */
export interface RedisTarget {
  url: URL;
  /** The URL without its password, for messages. */
  shown: string;
  connectTimeout: number;
  tls?: ClusterTls;
}

/**
 * Checks a connection URL (`redis://[user:password@]host[:port][/db]` or
 * `rediss://…` for TLS) and its options; a `TypeError`/`RangeError` says
 * what is wrong.
 */
export function checkTarget(
  method: string,
  url: unknown,
  options: ConnectionOptions,
): RedisTarget {
  let parsed: URL | undefined;
  if (typeof url === "string" || url instanceof URL) {
    try {
      parsed = new URL(String(url));
    } catch {
      parsed = undefined;
    }
  }
  if (
    parsed === undefined ||
    (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") ||
    parsed.hostname === ""
  ) {
    throw new TypeError(
      `Cannot ${method} as 'url' must be a Redis URL such as "redis://127.0.0.1:6379", "redis://:password@host:6379/0" or "rediss://host:6380" (TLS): current value is ${
        typeof url === "string" ? JSON.stringify(url) : describe(url)
      }`,
    );
  }
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) {
    throw new TypeError(
      `Cannot ${method} as the path of 'url' must be a database number such as "/0": current value is ${
        JSON.stringify(parsed.pathname)
      }`,
    );
  }
  const connectTimeout = options.connectTimeout === undefined
    ? DEFAULT_CONNECT_TIMEOUT
    : checkTimeout("options.connectTimeout", options.connectTimeout);
  if (options.tls !== undefined && typeof options.tls !== "object") {
    throw new TypeError(
      `Cannot ${method} as 'options.tls' must be an object such as { ca }: current value is ${
        describe(options.tls)
      }`,
    );
  }
  const shown = new URL(parsed.href);
  if (shown.password) shown.password = "***";
  return {
    url: parsed,
    shown: shown.href.replace(/\/$/, ""),
    connectTimeout,
    tls: options.tls,
  };
}

/** What a connection is for: a blocking one never pipelines. */
export interface OpenOptions {
  /** Used for blocking reads (`XREADGROUP BLOCK`, `BLMPOP`). */
  blocking?: boolean;
  /** The name the server lists it under (`CLIENT LIST`). */
  connectionName?: string;
}

/**
 * Opens a connection and waits until it is ready, at most
 * `target.connectTimeout` ms. Fails with a `ProcessError` that says why
 * (refused, wrong password, no answer, TLS) and names the server. Once
 * open, the connection reconnects by itself when it is lost, and commands
 * wait for it.
 */
export async function openRedis(
  target: RedisTarget,
  options: OpenOptions = {},
): Promise<RedisClient> {
  const { url, tls } = target;
  const client = new Redis(url.href, {
    lazyConnect: true,
    connectTimeout: Math.min(target.connectTimeout, 2 ** 31 - 1),
    // Commands wait for a lost connection to come back rather than fail
    // after some retries: callers bound their own waits.
    maxRetriesPerRequest: null,
    enableAutoPipelining: false,
    retryStrategy: (times: number) => Math.min(25 * 2 ** times, 1000),
    connectionName: options.connectionName,
    ...(url.protocol === "rediss:" ? { tls: { ...tls } } : {}),
  });
  let lastError: unknown;
  // ioredis reports each failed attempt as an event: without a listener it
  // prints them. The last one says why connect() failed.
  client.on("error", (error: unknown) => lastError = error);
  const deadline = performance.now() + target.connectTimeout;
  try {
    await within(client.connect(), { deadline }, () => {
      throw new ProcessError(
        `Cannot connect to Redis at ${target.shown}: no answer within ${target.connectTimeout} ms${
          lastError ? ` (${(lastError as Error).message})` : ""
        }`,
        { cause: lastError },
      );
    });
  } catch (error) {
    client.disconnect();
    if (error instanceof ProcessError) throw error;
    const reason = lastError ?? error;
    throw new ProcessError(
      `Cannot connect to Redis at ${target.shown}: ${
        (reason as Error)?.message ?? String(reason)
      }`,
      { cause: reason },
    );
  }
  const info = await client.info("server");
  const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? "0";
  const [major, minor] = version.split(".").map(Number);
  if (
    major < MIN_VERSION[0] ||
    (major === MIN_VERSION[0] && minor < MIN_VERSION[1])
  ) {
    client.disconnect();
    throw new ProcessError(
      `Cannot use Redis at ${target.shown}: the cluster needs Redis ${
        MIN_VERSION.join(".")
      } or newer (Streams consumer groups with XPENDING IDLE, BLMPOP), and the server is ${version}`,
    );
  }
  return client;
}

/** Closes a connection: politely, or at once when the server is gone. */
export async function closeRedis(
  client: RedisClient | undefined,
): Promise<void> {
  if (client === undefined || client.status === "end") return;
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  try {
    await within(client.quit(), { deadline: performance.now() + 1000 }, () => {
      client.disconnect();
    });
  } catch {
    client.disconnect();
  }
}

/** Whether a Redis reply error is `code` (such as "NOGROUP", "BUSYGROUP"). */
export function isReplyError(error: unknown, code: string): boolean {
  return error instanceof Error && error.message.startsWith(code);
}
