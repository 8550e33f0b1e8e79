// The web UI end to end, in Debian's chromium against a running `sightline serve` (see
// scripts/browser-test.sh, which starts one and sets SIGHTLINE_URL and ARTIFACTS):
// upload with progress, playback while processing, the detections list, filters, a re-render,
// a rejected upload, the page's JSON traffic while a processed video plays through, phone width
// and keyboard use, a line drawn on the picture and its counts, a portrait phone clip and a clip
// with sound, delete. The tests share one upload (processing it is the slow part), so they
// run in order; one whose prerequisite failed is skipped.

import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, BASE, MEDIA, api, assert, assertNoErrors, launch, openPage, run, sleep, waitFor } from './lib.mjs';

const VTEST = path.join(MEDIA, 'vtest.avi');
const JSON_BUDGET = 200 * 1000; // bytes of JSON while the 80 s video plays through

const browser = await launch();
let page = null;
let videoId = null;

/** Reads the player's state in one go, so the values belong together. */
const playerState = () =>
  page.evaluate(() => {
    const v = document.querySelector('#video');
    const p = document.querySelector('#player');
    return {
      t: v.currentTime,
      paused: v.paused,
      ended: v.ended,
      status: p.dataset.status,
      source: p.dataset.source,
      errors: window.__videoErrors || [],
    };
  });

const listRows = () =>
  page.evaluate(() => ({
    t: document.querySelector('#video').currentTime,
    note: document.querySelector('#detections-note').textContent,
    rows: [...document.querySelectorAll('#det-rows tr[data-time]')].map((r) => ({
      time: Number(r.dataset.time),
      cls: r.dataset.class,
      conf: Number(r.cells[2].textContent),
    })),
  }));

/** Records video errors and hls.js fatal errors (the app fires `hlsfatal` on the video). */
const watchVideo = () =>
  page.evaluate(() => {
    const v = document.querySelector('#video');
    window.__videoErrors = [];
    v.addEventListener('error', () => window.__videoErrors.push(`video error: ${v.error ? v.error.message || v.error.code : '?'}`));
    v.addEventListener('hlsfatal', (e) => window.__videoErrors.push(`hls.js fatal: ${e.detail}`));
  });

async function advancesBy(seconds, ms = 20000) {
  const t0 = (await playerState()).t;
  await waitFor(`currentTime to advance ${seconds} s past ${t0.toFixed(1)}`, async () => {
    const s = await playerState();
    assert(s.errors.length === 0, `playback errors: ${s.errors.join('; ')}`);
    return s.t >= t0 + seconds;
  }, { ms });
}

const tests = [
  {
    name: 'upload shows upload progress then processing progress',
    async fn() {
      page = await openPage(browser.context);
      await watchVideo();
      // Record what the upload item shows, 50 times a second, and when playback first moves.
      await page.evaluate(() => {
        const rec = { phases: [], upMid: [], procMax: 0, procText: '' };
        window.__rec = rec;
        setInterval(() => {
          const li = document.querySelector('#uploads li.upload');
          if (!li) return;
          const ph = li.dataset.phase;
          if (rec.phases[rec.phases.length - 1] !== ph) rec.phases.push(ph);
          const [up, proc] = li.querySelectorAll('progress');
          if (ph === 'uploading' && up.value > 0 && up.value < 1 && rec.upMid.length < 50) rec.upMid.push(up.value);
          if (ph === 'processing' && proc.value > rec.procMax) {
            rec.procMax = proc.value;
            rec.procText = li.querySelector('.upload-text').textContent;
          }
        }, 20);
        const v = document.querySelector('#video');
        v.addEventListener('timeupdate', () => {
          if (window.__firstPlay || v.currentTime < 0.05) return;
          const p = document.querySelector('#player');
          window.__firstPlay = { t: v.currentTime, status: p.dataset.status, progress: Number(p.dataset.progress) };
        });
      });
      // Slow the upload down (8 MB at 4 MB/s) so its progress is visible, as on a real network.
      const cdp = await browser.context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024 });
      await page.setInputFiles('#file-input', VTEST);
      await waitFor('the upload to be accepted', () => page.evaluate(() => window.__rec.phases.includes('processing')), { ms: 60000 });
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
      videoId = await page.getAttribute('#uploads li.upload', 'data-id');
      assert(videoId, 'the upload item has no video id');
      const rec = await waitFor('processing progress above 0', async () => {
        const r = await page.evaluate(() => window.__rec);
        return r.procMax > 0 && r;
      }, { ms: 90000 });
      assert(rec.phases[0] === 'uploading', `phases: ${rec.phases.join(' → ')}`);
      assert(rec.upMid.length >= 2, `the upload bar showed ${rec.upMid.length} values between 0 and 1`);
      assert(/Processing/.test(rec.procText), `processing text: ${rec.procText}`);
      console.log(`  video ${videoId}; upload bar: ${rec.upMid.slice(0, 6).map((v) => v.toFixed(2)).join(', ')}…; then "${rec.procText}"`);
      assertNoErrors(page);
    },
  },
  {
    name: 'playback starts while processing continues',
    needs: ['upload shows upload progress then processing progress'],
    async fn() {
      // The page opens the upload in the player and plays it as soon as /stream says 200.
      const first = await waitFor('playback to start', () => page.evaluate(() => window.__firstPlay), { ms: 90000 });
      console.log(`  playback started at t=${first.t.toFixed(2)} s while the video was ${first.status} (${(first.progress * 100).toFixed(0)}%)`);
      assert(first.status === 'processing', `the video was ${first.status} when playback started`);
      assert(first.progress < 1, `progress was ${first.progress} when playback started`);
      await advancesBy(2);
      // Quality: Auto plus every rendition; pick the smallest, then go back to Auto.
      const options = await page.$$eval('#quality option', (os) => os.map((o) => [o.value, o.textContent]));
      assert(options.length >= 2 && options[0][0] === '-1', `quality options: ${JSON.stringify(options)}`);
      const smallest = options[options.length - 1];
      await page.selectOption('#quality', smallest[0]);
      const height = smallest[1].split('p')[0];
      await waitFor(`the player to switch to ${height}p`, async () => /Fixed · playing (\d+)p/.exec(await page.textContent('#now-playing'))?.[1] === height, { ms: 20000 });
      await page.selectOption('#quality', '-1');
      await advancesBy(1);
      const s = await playerState();
      assert(s.errors.length === 0, s.errors.join('; '));
      assertNoErrors(page);
    },
  },
  {
    name: 'detections list follows the playhead',
    needs: ['playback starts while processing continues'],
    async fn() {
      const a = await waitFor('rows in the detections list', async () => {
        const l = await listRows();
        return l.rows.length > 0 && l;
      }, { ms: 20000 });
      const far = a.rows.filter((r) => Math.abs(r.time - a.t) > 6);
      assert(far.length === 0, `rows far from the playhead (${a.t.toFixed(1)} s): ${JSON.stringify(far.slice(0, 3))}`);
      const sig = (l) => l.rows.map((r) => `${r.time}/${r.cls}/${r.conf}`).join(',');
      const b = await waitFor('the list to change as the video plays', async () => {
        const l = await listRows();
        return l.rows.length > 0 && l.t > a.t + 1.5 && sig(l) !== sig(a) && l;
      }, { ms: 30000 });
      assert(b.rows.every((r) => Math.abs(r.time - b.t) <= 6), `rows far from the playhead at ${b.t.toFixed(1)} s`);
      console.log(`  at ${a.t.toFixed(1)} s: ${a.rows.length} rows (${a.note}); at ${b.t.toFixed(1)} s: ${b.rows.length} rows`);
      // Clicking a row seeks to it (paused, so the list holds still: the earliest row).
      await page.evaluate(() => document.querySelector('#video').pause());
      await sleep(300);
      const target = (await listRows()).rows[0].time;
      await page.click('#det-rows tr[data-time] button.seek');
      await waitFor(`a seek to ${target} s`, async () => Math.abs((await playerState()).t - target) < 0.05, { ms: 10000 });
      await page.evaluate(() => document.querySelector('#video').play());
      assertNoErrors(page);
    },
  },
  {
    name: 'class and confidence filters apply to the list and timeline',
    needs: ['upload shows upload progress then processing progress'],
    async fn() {
      await waitFor('the video to be ready', async () => (await playerState()).status === 'ready', { ms: 240000, every: 500 });
      await page.evaluate(() => {
        const v = document.querySelector('#video');
        v.currentTime = 5;
        return v.play();
      });
      await page.click('#classes-none');
      await page.check('#class-list input[value="person"]');
      const check = async (what, pred) => {
        const l = await waitFor(`rows after filtering (${what})`, async () => {
          const x = await listRows();
          return x.rows.length > 0 && x.note !== 'Loading…' && x;
        }, { ms: 15000 });
        const bad = l.rows.filter((r) => !pred(r));
        assert(bad.length === 0, `${what}: rows that do not match: ${JSON.stringify(bad.slice(0, 3))}`);
        return l;
      };
      const isPerson = (r) => r.cls === 'person';
      const first = await check('person only', isPerson);
      await advancesBy(2);
      await check('person only, later', isPerson);
      const legend = await page.$$eval('#timeline-legend .legend-item', (els) => els.map((e) => e.textContent));
      assert(legend.length === 1 && legend[0] === 'person', `timeline legend: ${legend.join(', ')}`);
      // Minimum confidence 0.50 from the keyboard: the range moves 0.05 per arrow key.
      await page.focus('#min-confidence');
      for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
      assert((await page.inputValue('#min-confidence')) === '0.5', `min confidence: ${await page.inputValue('#min-confidence')}`);
      await sleep(300);
      const conf = await check('person, confidence ≥ 0.5', (r) => isPerson(r) && r.conf >= 0.5);
      console.log(`  person only: ${first.rows.length} rows; with confidence ≥ 0.5: ${conf.rows.length} rows`);
      await page.keyboard.press('Home');
      assertNoErrors(page);
    },
  },
  {
    name: 're-render with the filter and play it',
    needs: ['class and confidence filters apply to the list and timeline'],
    async fn() {
      const before = await api(`/api/videos/${videoId}/renders`);
      await page.click('#render-button');
      const s = await waitFor('the player to switch to the rendering', async () => {
        const st = await playerState();
        return st.source.startsWith('render:') && st;
      }, { ms: 180000, every: 250 });
      const number = Number(s.source.split(':')[1]);
      const { body: renders } = await api(`/api/videos/${videoId}/renders`);
      const r = renders.find((x) => x.number === number);
      assert(r && renders.length === before.body.length + 1, `renders: ${JSON.stringify(renders)}`);
      assert(JSON.stringify(r.options.classes) === '["person"]', `the rendering's classes: ${JSON.stringify(r.options.classes)}`);
      await page.evaluate(() => document.querySelector('#video').play());
      await advancesBy(2, 30000);
      console.log(`  rendering ${number} (${r.status} when checked): ${await page.textContent('#render-status')}`);
      assertNoErrors(page);
    },
  },
  {
    name: 'a dropped file that is not a video is rejected with a clear message',
    needs: [],
    async fn() {
      if (!page) page = await openPage(browser.context);
      // Dropped on the drop zone (the file input was used for the video above).
      const dt = await page.evaluateHandle(() => {
        const d = new DataTransfer();
        d.items.add(new File(['These are my notes, not a video.\n'.repeat(40)], 'holiday.mp4', { type: 'video/mp4' }));
        return d;
      });
      await page.dispatchEvent('#dropzone', 'dragenter', { dataTransfer: dt });
      await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
      const li = await page.waitForSelector('#uploads li.upload[data-phase="rejected"]', { timeout: 30000 });
      const text = await li.$eval('.upload-text', (e) => e.textContent);
      const role = await li.$eval('.upload-text', (e) => e.getAttribute('role'));
      console.log(`  shown: "${text}"`);
      assert(/Not accepted/.test(text) && /not a video/i.test(text) && /holiday\.mp4/.test(text) && /HTTP 415/.test(text), `message: ${text}`);
      assert(role === 'alert', 'the message is not announced (role=alert)');
      // The browser itself logs the 415 response; nothing else may be logged.
      assertNoErrors(page, [/status of 415/]);
    },
  },
  {
    name: 'JSON traffic while a processed video plays through stays small',
    needs: ['upload shows upload progress then processing progress'],
    async fn() {
      await waitFor('every rendering of the video to end', async () => {
        const { body } = await api(`/api/videos/${videoId}/renders`);
        return body.every((r) => ['ready', 'failed', 'interrupted'].includes(r.status));
      }, { ms: 180000, every: 1000 });
      if (page) await page.close();
      const json = { bytes: 0, responses: 0, biggest: 0, byKind: {}, pending: [] };
      const p = await browser.context.newPage();
      page = p;
      p.log = { errors: [], warnings: [] };
      p.on('console', (m) => m.type() === 'error' && p.log.errors.push(`console: ${m.text()}`));
      p.on('pageerror', (e) => p.log.errors.push(`page error: ${e.message}`));
      p.on('response', (r) => {
        if (!(r.headers()['content-type'] || '').startsWith('application/json')) return;
        json.pending.push(r.body().then((b) => {
          json.bytes += b.length;
          json.responses++;
          json.biggest = Math.max(json.biggest, b.length);
          const kind = new URL(r.url()).pathname.replace(/[0-9a-f]{16}/, '{id}').replace(/\/renders\/\d+/, '/renders/{n}');
          const k = (json.byKind[kind] ||= { n: 0, bytes: 0 });
          k.n++;
          k.bytes += b.length;
        }).catch(() => {}));
      });
      await p.goto(`${BASE}/#v=${videoId}`);
      await watchVideo();
      await waitFor('the player to load the video', async () => (await p.$$('#quality option')).length > 1, { ms: 30000 });
      await p.evaluate(() => {
        const v = document.querySelector('#video');
        v.playbackRate = 8;
        return v.play();
      });
      const duration = (await api(`/api/videos/${videoId}`)).body.duration_ms / 1000;
      // Half way: pause at normal speed for the README's picture, then play on to the end.
      await waitFor('the playhead to reach 30 s', async () => (await playerState()).t >= 30, { ms: 60000 });
      await p.evaluate(() => {
        const v = document.querySelector('#video');
        v.pause();
        v.currentTime = 31.2;
      });
      await sleep(1500);
      await p.evaluate(() => document.querySelector('#player-section').scrollIntoView({ block: 'start' }));
      await p.screenshot({ path: path.join(ARTIFACTS, 'playing.png') });
      await p.evaluate(() => {
        const v = document.querySelector('#video');
        v.playbackRate = 8;
        return v.play();
      });
      await waitFor('the video to play to its end', async () => {
        const s = await playerState();
        assert(s.errors.length === 0, `playback errors: ${s.errors.join('; ')}`);
        return s.ended;
      }, { ms: 120000, every: 250 });
      await Promise.all(json.pending);
      const kinds = Object.entries(json.byKind).sort((a, b) => b[1].bytes - a[1].bytes)
        .map(([k, v]) => `    ${k}: ${v.n} responses, ${v.bytes} bytes`).join('\n');
      console.log(`  JSON while playing the ${duration.toFixed(1)} s video through: ${json.bytes} bytes in ${json.responses} responses (largest ${json.biggest} bytes; budget ${JSON_BUDGET})\n${kinds}`);
      fs.writeFileSync(path.join(ARTIFACTS, 'json-bytes.txt'), `${json.bytes}\n`);
      assert(json.bytes < JSON_BUDGET, `${json.bytes} bytes of JSON, over the ${JSON_BUDGET} budget`);
      assertNoErrors(p);
    },
  },
  {
    name: 'phone width and keyboard',
    needs: ['JSON traffic while a processed video plays through stays small'],
    async fn() {
      await page.setViewportSize({ width: 390, height: 844 });
      await sleep(500);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 0, `the page is ${overflow} px wider than a 390 px screen`);
      // Every control has a name a screen reader can read.
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll('button, input, select, [role=slider]')]
          .filter((e) => !e.closest('[hidden]'))
          .filter((e) => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || (e.labels && e.labels.length) || e.textContent.trim()))
          .map((e) => e.outerHTML.slice(0, 80)));
      assert(unnamed.length === 0, `controls without a name: ${unnamed.join(' | ')}`);
      // The timeline is a slider: Home, then two steps of 5 s to the right.
      await page.focus('#timeline');
      await page.keyboard.press('Home');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await waitFor('a seek to 10 s from the keyboard', async () => Math.abs((await playerState()).t - 10) < 0.6, { ms: 10000 });
      // A click on the timeline seeks there too: its middle is the middle of the video.
      const box = await page.locator('#timeline').boundingBox();
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      const half = (await api(`/api/videos/${videoId}`)).body.duration_ms / 2000;
      await waitFor(`a seek to ${half} s from a click on the timeline`, async () => Math.abs((await playerState()).t - half) < 1.5, { ms: 10000 });
      await page.focus('#timeline');
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert(outline !== 'none', 'the focused timeline shows no focus outline');
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: true });
      assertNoErrors(page);
    },
  },
  {
    name: 'draw a line on the paused picture, save, see its counts, and an event seeks',
    needs: ['JSON traffic while a processed video plays through stays small'],
    async fn() {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.locator('#video').scrollIntoViewIfNeeded();
      await page.fill('#rule-name', 'left path');
      await page.click('#draw-line');
      assert(await page.evaluate(() => document.querySelector('#video').paused), 'drawing did not pause the video');
      // Where the picture is on the screen (the element may letterbox it).
      const pic = await page.evaluate(() => {
        const v = document.querySelector('#video');
        const b = v.getBoundingClientRect();
        const ratio = v.videoWidth / v.videoHeight;
        let w = b.width;
        let hgt = w / ratio;
        if (hgt > b.height) {
          hgt = b.height;
          w = hgt * ratio;
        }
        return { x: b.left + (b.width - w) / 2, y: b.top + (b.height - hgt) / 2, w, h: hgt };
      });
      // The line across the left path that the Rust test counts by eye: 7 one way, 5 the other.
      await page.mouse.click(pic.x + 0.25 * pic.w, pic.y + 0.3 * pic.h);
      await page.mouse.click(pic.x + 0.25 * pic.w, pic.y + 0.62 * pic.h);
      let counted = '';
      await waitFor('the new line\'s counts', async () => {
        counted = await page.evaluate(() => [...document.querySelectorAll('#rule-counts li')].map((l) => l.textContent).join(' | '));
        return /left path: in \d+ · out \d+/.test(counted);
      }, { ms: 20000 });
      const [, ins, outs] = /left path: in (\d+) · out (\d+)/.exec(counted).map(Number);
      assert(ins + outs >= 10 && ins + outs <= 14, `counts: ${counted}`);
      const rows = await page.$$eval('#rule-event-rows tr', (trs) => trs.map((r) => Number(r.dataset.time)));
      assert(rows.length === ins + outs, `${rows.length} events listed for ${counted}`);
      const ticks = await page.$$eval('#rule-ticks .tick', (t) => t.length);
      assert(ticks === rows.length, `${ticks} ticks under the timeline for ${rows.length} events`);
      const shapes = await page.$$eval('#rules-overlay .rule-shape', (s) => s.length);
      assert(shapes === 1, `${shapes} shapes drawn over the picture`);
      // A click on an event seeks the player there.
      await page.click('#rule-event-rows tr:nth-child(3)');
      await waitFor(`a seek to the event at ${rows[2]} s`, async () => Math.abs((await playerState()).t - rows[2]) < 0.6, { ms: 10000 });
      await page.screenshot({ path: path.join(ARTIFACTS, 'zones.png') });
      assertNoErrors(page);
    },
  },
  {
    name: 'delete from the library',
    needs: ['JSON traffic while a processed video plays through stays small'],
    async fn() {
      await page.setViewportSize({ width: 1280, height: 900 });
      const del = `#library li.card[data-id="${videoId}"] button.danger`;
      await page.click(del);
      assert((await page.textContent(del)) === 'Confirm delete', 'the first click does not ask for confirmation');
      await page.click(del);
      await page.waitForSelector(`#library li.card[data-id="${videoId}"]`, { state: 'detached', timeout: 15000 });
      assert(await page.isHidden('#player-section'), 'the player still shows the deleted video');
      const { status } = await api(`/api/videos/${videoId}`);
      assert(status === 404, `GET the deleted video answered ${status}`);
      assertNoErrors(page);
    },
  },
  {
    name: 'a phone clip stands upright and a clip with sound plays it',
    needs: ['upload shows upload progress then processing progress'],
    async fn() {
      await page.setViewportSize({ width: 1280, height: 900 });
      // Each upload opens in the player and starts playing, muted (browsers autoplay silence).
      const playing = async (clip) => {
        await page.setInputFiles('#file-input', path.join(MEDIA, clip));
        await waitFor(`${clip} to open in the player`, async () => (await page.textContent('#player-title')) === clip, { ms: 60000 });
        await waitFor(`${clip} to play`, () => page.evaluate(() => document.querySelector('#video').currentTime > 0.3), { ms: 60000 });
      };
      await playing('bikes_rot90.mp4');
      const shape = await page.evaluate(() => {
        const v = document.querySelector('#video');
        return { w: v.videoWidth, h: v.videoHeight, ratio: getComputedStyle(v).aspectRatio };
      });
      assert(shape.w === 272 && shape.h === 640, `the portrait clip plays as ${shape.w}×${shape.h}`);
      assert(shape.ratio.replace(/\s/g, '') === '272/640', `the player's shape is ${shape.ratio}`);
      assert(/272×640/.test(await page.textContent('#player-status')), 'the status line does not say 272×640');
      await page.screenshot({ path: path.join(ARTIFACTS, 'portrait.png') });

      await playing('bikes_aac.mp4');
      assert(await page.evaluate(() => document.querySelector('#video').muted), 'playback did not start muted');
      // A click on the player is the gesture that turns the sound on.
      await page.click('#player-status');
      const before = await page.evaluate(() => document.querySelector('#video').webkitAudioDecodedByteCount);
      await advancesBy(1);
      const sound = await page.evaluate(() => {
        const v = document.querySelector('#video');
        return { muted: v.muted, paused: v.paused, decoded: v.webkitAudioDecodedByteCount };
      });
      assert(!sound.muted && !sound.paused, `after the click: muted ${sound.muted}, paused ${sound.paused}`);
      assert(sound.decoded > before, `no sound decoded while playing (${before} → ${sound.decoded} bytes)`);
      assert(/with sound/.test(await page.textContent('#player-status')), 'the status line does not say "with sound"');
      console.log(`  portrait ${shape.w}×${shape.h}; sound: ${sound.decoded - before} bytes decoded in 1 s`);
      assertNoErrors(page);
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
