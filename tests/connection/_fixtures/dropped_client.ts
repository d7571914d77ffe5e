// Connects to the listener at port Deno.args[0], sends "hi", and drops the
// connection without closing it; collects garbage until the listener side
// says (by closing its end) that it saw EOF, or gives up after 10 s. Run
// with --v8-flags=--expose-gc.
import { Client } from "../../../mod.ts";

const gc = (globalThis as { gc?: () => void }).gc!;
let conn: Awaited<ReturnType<typeof Client>> | undefined = await Client({
  port: Number(Deno.args[0]),
});
conn.send("hi");
const watch = await Client({ port: Number(Deno.args[0]) }); // stays referenced
conn = undefined;
const end = Date.now() + 10_000;
const seen = watch.recv().then(() => true, () => true);
let done = false;
seen.then(() => (done = true));
while (!done && Date.now() < end) {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 10));
}
watch.close();
console.log(done ? "peer saw EOF" : "gave up");
