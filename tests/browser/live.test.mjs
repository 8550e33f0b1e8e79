// A live camera in the web UI (see scripts/browser-test.sh, which starts the stand-in RTSP camera
// and sets CAMERA_URL): added by URL, shown with its state and latency, played live by hls.js in
// the player, stopped, started again, stopped, and deleted so the other tests find the library as they left it.

import path from 'node:path';
import { ARTIFACTS, api, assert, assertNoErrors, launch, openPage, run, sleep, waitFor } from './lib.mjs';

const CAMERA = process.env.CAMERA_URL;
const ROW = '#live-list li.live-source';

const browser = await launch();
let page = null;

const tests = [
  {
    name: 'a live camera is added, watched and stopped',
    async fn() {
      assert(CAMERA, 'CAMERA_URL is not set: scripts/browser-test.sh starts the camera');
      page = await openPage(browser.context);
      await page.fill('#live-url', CAMERA);
      await page.fill('#live-name', 'door camera');
      await page.click('#live-add');
      await waitFor('the source to be live', async () => (await page.getAttribute(ROW, 'data-state')) === 'live', { ms: 60000 });
      const id = await page.getAttribute(ROW, 'data-id');
      const figures = await waitFor('its latency to show', async () => {
        const text = await page.textContent(`${ROW} .live-figures`);
        return /latency \d/.test(text) && text;
      }, { ms: 30000 });

      await page.click(`${ROW} button:has-text("Watch")`);
      await waitFor('live playback', () => page.evaluate(() => document.querySelector('#video').currentTime > 1), { ms: 60000 });
      const t0 = await page.evaluate(() => document.querySelector('#video').currentTime);
      await sleep(3000);
      const shown = await page.evaluate(() => ({
        t: document.querySelector('#video').currentTime,
        status: document.querySelector('#player-status').textContent,
      }));
      assert(shown.t > t0 + 1, `live playback stalled at ${shown.t}`);
      assert(/live source/.test(shown.status), `the status line says: ${shown.status}`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'live.png') });
      console.log(`  ${figures}; played ${shown.t.toFixed(1)} s`);

      await page.click(`${ROW} button:has-text("Stop")`);
      await waitFor('the source to be stopped', async () => (await page.getAttribute(ROW, 'data-state')) === 'stopped', { ms: 30000 });
      // Started again from its row, it comes back live; then stopped for good.
      await page.click(`${ROW} button:has-text("Start")`);
      await waitFor('the source to be live again', async () => (await page.getAttribute(ROW, 'data-state')) === 'live', { ms: 60000 });
      await page.click(`${ROW} button:has-text("Stop")`);
      await waitFor('the source to be stopped again', async () => (await page.getAttribute(ROW, 'data-state')) === 'stopped', { ms: 30000 });
      assertNoErrors(page);
      // Gone once its stream has ended.
      await waitFor('the stopped source to be deleted', async () => (await api(`/api/videos/${id}`, { method: 'DELETE' })).status === 204, { ms: 30000, every: 500 });
    },
  },
];

let ok = false;
try {
  ok = await run(tests, { getPage: () => page });
} finally {
  await browser.close();
}
process.exit(ok ? 0 : 1);
