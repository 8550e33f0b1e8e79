// Helpers for the browser tests: Debian's chromium driven by playwright-core (installed in web/),
// a tiny test runner with screenshots, and checks on what the page logs.
//
// Environment (set by scripts/browser-test.sh): SIGHTLINE_URL (the server), ARTIFACTS (folder for
// screenshots), CHROMIUM (browser binary, default /usr/bin/chromium), MEDIA (sample media folder).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
// playwright-core lives in web/node_modules (web/package.json's devDependencies).
const require = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');

export const BASE = (process.env.SIGHTLINE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const ARTIFACTS = process.env.ARTIFACTS || path.join(ROOT, 'target/browser-artifacts');
export const MEDIA = process.env.MEDIA || path.join(ROOT, '.cache/media');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Failure extends Error {}

export function assert(cond, message) {
  if (!cond) throw new Failure(message);
}

/** Polls `fn` (async, returns a truthy value when done) until it does or `ms` pass. */
export async function waitFor(what, fn, { ms = 30000, every = 100 } = {}) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) {
      const detail = last instanceof Error ? `: ${last.message}` : last === undefined ? '' : ` (last: ${JSON.stringify(last)})`;
      throw new Failure(`timed out after ${(ms / 1000).toFixed(0)} s waiting for ${what}${detail}`);
    }
    await sleep(every);
  }
}

/** Starts chromium with a fresh profile; returns {context, close}. */
export async function launch({ viewport = { width: 1280, height: 900 } } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', '--mute-audio',
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens a page that records console errors, page errors and failed requests. */
export async function openPage(context, url = `${BASE}/`) {
  const page = await context.newPage();
  const log = { errors: [], warnings: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(`console: ${m.text()}`);
    else if (m.type() === 'warning') log.warnings.push(m.text());
  });
  page.on('pageerror', (e) => log.errors.push(`page error: ${e.message}`));
  page.log = log;
  await page.goto(url);
  await page.waitForSelector('#library-title');
  return page;
}

/** Fails when the page logged errors other than those matching `allowed` (regexps). */
export function assertNoErrors(page, allowed = []) {
  const bad = page.log.errors.filter((e) => !allowed.some((re) => re.test(e)));
  assert(bad.length === 0, `the page logged errors:\n  ${bad.join('\n  ')}`);
}

export async function api(p, init) {
  const r = await fetch(`${BASE}${p}`, init);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/**
 * Runs tests in order; each gets a screenshot (pass or fail) named after it. A test may name
 * others it `needs`: it is skipped when one of them did not pass.
 */
export async function run(tests, { getPage }) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const results = new Map();
  const started = Date.now();
  let n = 0;
  for (const t of tests) {
    n++;
    const slug = `${String(n).padStart(2, '0')}-${t.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
    const missing = (t.needs || []).filter((d) => results.get(d) !== 'pass');
    if (missing.length) {
      results.set(t.name, 'skip');
      console.log(`SKIP ${t.name} (needs: ${missing.join(', ')})`);
      continue;
    }
    const t0 = Date.now();
    let outcome = 'pass';
    let error = null;
    try {
      await t.fn();
    } catch (e) {
      outcome = 'fail';
      error = e;
    }
    const page = getPage();
    if (page && !page.isClosed()) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${slug}.png`), fullPage: true }).catch(() => {});
    }
    results.set(t.name, outcome);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (outcome === 'pass') console.log(`PASS ${t.name} (${secs} s)`);
    else {
      console.log(`FAIL ${t.name} (${secs} s)\n  ${error instanceof Failure ? error.message : error.stack || error}`);
    }
  }
  const counts = { pass: 0, fail: 0, skip: 0 };
  for (const r of results.values()) counts[r]++;
  console.log(`\nbrowser tests took ${((Date.now() - started) / 1000).toFixed(0)} s; screenshots in ${ARTIFACTS}`);
  // The plain closing line test harnesses read: alone on its line.
  console.log(`${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped`);
  return counts.fail === 0 && counts.skip === 0;
}
