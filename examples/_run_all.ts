// `deno task examples`: runs every program in examples/ in turn, shows its
// output, and fails if any fails or runs longer than its time limit.

const LIMIT_MS = 30_000;
const here = new URL(".", import.meta.url);
const programs = [...Deno.readDirSync(here)]
  .map((entry) => entry.name)
  .filter((name) => name.endsWith(".ts") && !name.startsWith("_"))
  .sort();

/** The flags an example's header asks for ("//   deno run <flags> examples/…"). */
function flagsOf(name: string): string[] {
  const text = Deno.readTextFileSync(new URL(name, here));
  const line = text.match(/^\/\/\s+deno run (.*) examples\//m);
  return line ? line[1].trim().split(/\s+/) : ["--allow-read"];
}

let failures = 0;
for (const name of programs) {
  console.log(`\n=== examples/${name}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flagsOf(name), new URL(name, here).pathname],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, LIMIT_MS);
  const status = await child.status;
  clearTimeout(timer);
  if (timedOut) {
    console.log(`✗ examples/${name} did not end within ${LIMIT_MS / 1000} s`);
    failures++;
  } else if (!status.success) {
    console.log(`✗ examples/${name} exited with code ${status.code}`);
    failures++;
  } else {
    console.log(`✓ examples/${name}`);
  }
}
console.log(
  `\n${
    programs.length - failures
  } of ${programs.length} examples ran to the end`,
);
if (failures > 0) Deno.exit(1);
