// A downloader and a saver: the downloader puts "pages" into a Queue; the
// saver takes them with a timeout and gives up once none arrives in time
// (Python's `queue.get(timeout=...)` raising `queue.Empty`).
//
//   deno run --allow-read examples/queue_downloader_saver.ts

import { Empty, Process, Queue } from "../mod.ts";

export async function downloader(pages: Queue<{ url: string; body: string }>) {
  for (const n of [1, 2, 3, 4]) {
    const url = `https://example.com/page/${n}`;
    await new Promise((r) => setTimeout(r, 20)); // pretend to download
    await pages.put({ url, body: `<html>page ${n}</html>` });
    console.log(`downloaded ${url}`);
  }
}

export async function saver(pages: Queue<{ url: string; body: string }>) {
  let saved = 0;
  while (true) {
    try {
      const page = await pages.get({ timeout: 500 });
      saved++;
      console.log(`saved ${page.url} (${page.body.length} bytes)`);
    } catch (error) {
      if (!(error instanceof Empty)) throw error;
      console.log(`no page for 500 ms: saver gives up after ${saved} pages`);
      return;
    }
  }
}

if (import.meta.main) {
  const pages = new Queue<{ url: string; body: string }>(2);
  const d = new Process({ target: downloader, args: [pages] });
  const s = new Process({ target: saver, args: [pages] });
  d.start();
  s.start();
  await Promise.all([d.join(), s.join()]);
  console.log(`downloader: ${d.exitCode}, saver: ${s.exitCode}`);
}
