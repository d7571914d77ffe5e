// `deno task bench:compare [filter]`: runs every case of bench/*_cases.ts
// in this program and its Python twin with python3 in the same run, and
// prints one table: both figures and the ratio, so that only ratios measured
// side by side are compared.

import type { CompareCase } from "./_compare.ts";

const filter = Deno.args[0]?.toLowerCase();
const here = new URL(".", import.meta.url);
const files = [...Deno.readDirSync(here)]
  .map((entry) => entry.name)
  .filter((name) => name.endsWith("_cases.ts"))
  .sort();

interface Row {
  name: string;
  unit: string;
  deno: number;
  python?: number;
  pythonError?: string;
  better: "lower" | "higher";
  goal?: string;
}

const rows: Row[] = [];
for (const file of files) {
  const module = await import(new URL(file, here).href) as {
    cases: CompareCase[];
  };
  for (const c of module.cases) {
    if (filter && !c.name.toLowerCase().includes(filter)) continue;
    console.error(`measuring: ${c.name}`);
    const deno = await c.deno();
    if (!c.python?.length) {
      rows.push({
        name: c.name,
        unit: c.unit,
        deno,
        better: c.better,
        goal: c.goal,
      });
      continue;
    }
    for (const twin of c.python) {
      const row: Row = {
        name: twin.label ? `${c.name} (vs ${twin.label})` : c.name,
        unit: c.unit,
        deno,
        better: c.better,
        goal: c.goal,
      };
      try {
        row.python = await runPython(twin.script, twin.case);
      } catch (error) {
        row.pythonError = (error as Error).message;
      }
      rows.push(row);
    }
  }
}

async function runPython(script: string, name: string): Promise<number> {
  const output = await new Deno.Command("python3", {
    args: [new URL(`python/${script}`, here).pathname, name],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(
      new TextDecoder().decode(output.stderr).trim().split("\n").at(-1),
    );
  }
  return Number(JSON.parse(text.split("\n").at(-1)!).value);
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toPrecision(3);
}

const header = [
  "case",
  "unit",
  "Deno",
  "Python",
  "Deno/Python",
  "better",
  "goal",
];
const table = rows.map((row) => {
  const ratio = row.python === undefined ? undefined : row.deno / row.python;
  const advantage = ratio === undefined
    ? "—"
    : row.better === "lower"
    ? `${format(1 / ratio)}× ${1 / ratio >= 1 ? "faster" : "slower"}`
    : `${format(ratio)}× ${ratio >= 1 ? "more" : "less"}`;
  return [
    row.name,
    row.unit,
    format(row.deno),
    row.python === undefined
      ? (row.pythonError ? `error: ${row.pythonError}` : "—")
      : format(row.python),
    ratio === undefined ? "—" : `${format(ratio)}×`,
    advantage,
    row.goal ?? "",
  ];
});
const widths = header.map((h, i) =>
  Math.max(h.length, ...table.map((r) => r[i].length))
);
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of table) console.log(line(row));
console.log(
  `\nDeno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; Python from \`python3\`; lower-is-better rows compare times, higher-is-better rows compare rates.`,
);
