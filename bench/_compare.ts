// The shape of a row in `deno task bench:compare`: a Deno measurement and,
// when Python has the same thing, the name of its twin in bench/python/.

/** One Python measurement to run beside a Deno one. */
export interface PythonTwin {
  /** Shown after the row's name, such as "fork" or "forkserver". */
  label?: string;
  /** A script in bench/python/, run as `python3 <script> <case>`. */
  script: string;
  /** The case's name, passed to the script. */
  case: string;
}

/** A comparison row (or a few rows sharing one Deno figure). */
export interface CompareCase {
  /** What is measured, such as "Process start + join, one at a time". */
  name: string;
  /** The unit of both figures. */
  unit: "ms" | "µs" | "ns" | "items/s" | "ops/s" | "MiB" | "s";
  /** Whether a lower or a higher figure is better. */
  better: "lower" | "higher";
  /** The goal stated by the issue, shown beside the ratio. */
  goal?: string;
  /** Measures in this program and returns the figure (a median). */
  deno: () => Promise<number>;
  /** Python's twins: one row each. */
  python?: PythonTwin[];
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
