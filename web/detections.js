// Detections around the playhead, fetched by window, a few windows cached: only a small span
// around the playhead is ever fetched, so the list stays cheap however long the video is.

import { api } from './api.js';
import { classColor, learnClassIds } from './classes.js';
import { $, fmtTime, h } from './dom.js';
import { processedSeconds, seek, videoEl } from './player.js';
import { detections, filters, player } from './state.js';

const WINDOW_S = 10; // detections are fetched in windows of this many seconds…
const SPARSE_MAX = 60; // …when the stats say the window holds at most this many detections;
const WINDOW_LIMIT = 2 * SPARSE_MAX; // a window answer this long means it was dense after all
const SNAP_LIMIT = 25; // otherwise one frame per second is fetched, at most this many rows
const NEAR_S = 5; // in window mode, rows within this many seconds of the playhead are listed
const LIST_MAX = 40;
const CACHE_MAX = 24;

// Redraws what shows class colours once a new class id is learned. It lives in filters.js, which
// needs this module, so the entry passes it in (setupDetections) instead of it being imported.
let recolour = () => {};

/** How many detections of the shown classes the stats put in [a, b). null: no stats yet. */
function estimate(a, b) {
  const s = player.stats;
  if (!s) return null;
  let n = 0;
  for (const bin of s.histogram) {
    const lo = bin.start;
    const hi = bin.start + s.bin_seconds;
    const overlap = Math.min(b, hi) - Math.max(a, lo);
    if (overlap <= 0) continue;
    let sum = 0;
    for (const [c, k] of Object.entries(bin.counts)) if (filters.shows(c)) sum += k;
    n += (sum * overlap) / s.bin_seconds;
  }
  return n;
}

function windowMode(k) {
  if (detections.dense.has(`${filters.key()}|${k}`)) return 'snapshot';
  // Past what the stats covered (while processing), the density is unknown: sample.
  if ((k + 1) * WINDOW_S > player.statsUpTo + WINDOW_S / 2 && (k + 1) * WINDOW_S < player.video.duration_ms / 1000) return 'snapshot';
  const est = estimate(k * WINDOW_S, (k + 1) * WINDOW_S);
  return est !== null && est <= SPARSE_MAX ? 'window' : 'snapshot';
}

/** The cached rows of a span, or null while they load (a load is started if none is running). */
function chunk(kind, k) {
  const v = player.video;
  const fk = filters.key();
  const key = `${fk}|${kind}${k}`;
  const hit = detections.cache.get(key);
  if (hit && hit.rows) {
    // Spans that reach past what was processed when they were fetched are fetched again later.
    if (hit.complete || performance.now() - hit.at < 3000) {
      detections.cache.delete(key); // refresh its place in the LRU order
      detections.cache.set(key, hit);
      return hit.rows;
    }
  } else if (hit && hit.pending) {
    return hit.stale || null;
  }
  const session = player.session;
  const dur = v.duration_ms / 1000;
  let start;
  let end;
  let limit;
  if (kind === 'w') {
    start = k * WINDOW_S;
    end = Math.min(dur + 1, (k + 1) * WINDOW_S);
    limit = WINDOW_LIMIT;
  } else {
    const every = (v.options && Number(v.options.every)) || 1;
    start = k;
    end = k + every / (v.fps > 0 ? v.fps : 10);
    limit = SNAP_LIMIT;
  }
  const q = new URLSearchParams({ start: String(start), end: end.toFixed(3), limit: String(limit) });
  const inc = filters.included();
  if (inc !== null) for (const c of inc) q.append('class', c);
  const minConf = filters.minConf();
  if (minConf > 0) q.set('confidence', String(minConf));
  const complete = end <= processedSeconds();
  const entry = {
    stale: hit && hit.rows ? hit.rows : null,
    pending: api(`/api/videos/${encodeURIComponent(v.id)}/detections?${q}`).then(({ body }) => {
      if (session !== player.session) return;
      if (kind === 'w' && body.next_cursor) {
        // Denser than the stats said (they lag while processing): sample this window instead.
        detections.cache.delete(key);
        detections.dense.add(`${fk}|${k}`);
      } else {
        detections.cache.set(key, { rows: body.items, complete, at: performance.now() });
        if (learnClassIds(body.items, 'class_id')) recolour();
      }
      while (detections.cache.size > CACHE_MAX) detections.cache.delete(detections.cache.keys().next().value);
      detections.rendered = '';
      updateDetections();
    }).catch(() => {
      detections.cache.delete(key);
    }),
  };
  detections.cache.set(key, entry);
  return entry.stale;
}

export function updateDetections() {
  const v = player.video;
  if (!v || !player.stats) return;
  const t = videoEl.currentTime || 0;
  const dur = v.duration_ms / 1000;
  const inc = filters.included();
  const note = $('#detections-note');
  if (inc !== null && inc.length === 0) {
    renderRows('none', [], t);
    note.textContent = 'No class selected.';
    return;
  }
  const k = Math.floor(t / WINDOW_S);
  let rows = null;
  let label;
  if (windowMode(k) === 'window') {
    const parts = [chunk('w', k)];
    const off = t - k * WINDOW_S;
    if (off < NEAR_S && k > 0 && windowMode(k - 1) === 'window') parts.push(chunk('w', k - 1));
    // Prefetch the next window while this one plays.
    if ((k + 1) * WINDOW_S < dur && windowMode(k + 1) === 'window') {
      const next = chunk('w', k + 1);
      if (off >= NEAR_S) parts.push(next);
    }
    if (parts[0] !== null) {
      const all = parts.filter(Boolean).flat().filter((d) => Math.abs(d.time - t) <= NEAR_S);
      all.sort((a, b) => Math.abs(a.time - t) - Math.abs(b.time - t));
      rows = all.slice(0, LIST_MAX).sort((a, b) => a.time - b.time || b.confidence - a.confidence);
    }
    label = `Within ${NEAR_S} s of ${fmtTime(t, true)}`;
  } else {
    const s = Math.floor(t);
    rows = chunk('s', s);
    if (s + 1 < dur) chunk('s', s + 1); // prefetch the next second
    label = `Frame at ${fmtTime(s, true)} (one frame sampled per second)`;
  }
  if (rows === null) {
    // Keep showing the previous span while the next one loads (it usually is prefetched).
    if (!$('#det-rows').children.length) note.textContent = 'Loading…';
    return;
  }
  note.textContent = label;
  renderRows(`${filters.key()}|${rows.map((d) => `${d.frame}:${d.class_id}:${d.confidence}`).join(',')}`, rows, t);
}

function renderRows(key, rows, t) {
  const body = $('#det-rows');
  const frame = player.video && player.video.fps > 0 ? 1 / player.video.fps : 0.1;
  const isNow = (time) => time <= t + 1e-3 && t < time + Math.max(frame, 0.5);
  if (key !== detections.rendered) {
    // A new set of rows: build them (the same set is only re-highlighted, below, so a row is
    // not replaced under the pointer or the keyboard focus while the video plays).
    detections.rendered = key;
    detections.current = null;
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    if (!rows.length) {
      body.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 4, class: 'muted' }, 'No detections here.')));
      return;
    }
    body.replaceChildren(...rows.map((d, i) => h('tr', { dataset: { class: d.class, time: d.time, box: d.box.join(',') } },
      h('td', {}, h('button', { type: 'button', class: 'seek', dataset: { key: `${d.frame}-${d.class_id}-${i}` }, 'aria-label': `Seek to ${fmtTime(d.time, true)}, ${d.class} ${d.confidence.toFixed(2)}` }, fmtTime(d.time, true))),
      h('td', {}, h('span', { class: 'swatch', style: `background:${classColor(d.class)}` }), d.class),
      h('td', { class: 'num' }, d.confidence.toFixed(2)),
      h('td', { class: 'num' }, d.track_id === null || d.track_id === undefined ? '—' : `#${d.track_id}`))));
    if (focused) {
      const again = body.querySelector(`button[data-key="${CSS.escape(focused)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
  }
  let current = null;
  for (const tr of body.querySelectorAll('tr[data-time]')) {
    const now = isNow(Number(tr.dataset.time));
    tr.classList.toggle('now', now);
    if (now && !current) current = tr;
  }
  if (current && current !== detections.current) {
    // Keep the current rows in view inside the list, without scrolling the page.
    const box = $('#det-scroll');
    box.scrollTop = Math.max(0, current.offsetTop - box.clientHeight / 3);
  }
  detections.current = current;
}

export function setupDetections(onNewClassIds) {
  recolour = onNewClassIds;
  const body = $('#det-rows');
  body.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-time]');
    if (tr) seek(Number(tr.dataset.time));
  });
  const show = (e) => {
    const tr = e.target.closest('tr[data-box]');
    highlight(tr ? tr.dataset.box.split(',').map(Number) : null, tr ? tr.dataset.class : '');
  };
  body.addEventListener('mouseover', show);
  body.addEventListener('focusin', show);
  body.addEventListener('mouseleave', () => highlight(null));
  body.addEventListener('focusout', () => highlight(null));
}

/** Outlines a detection's box over the video (the burnt-in boxes show every detection). */
function highlight(box, cls) {
  const el = $('#highlight');
  if (!box || box.length !== 4 || !videoEl.videoWidth) {
    el.hidden = true;
    return;
  }
  const cw = videoEl.clientWidth;
  const ch = videoEl.clientHeight;
  const scale = Math.min(cw / videoEl.videoWidth, ch / videoEl.videoHeight);
  const w = videoEl.videoWidth * scale;
  const hh = videoEl.videoHeight * scale;
  const ox = (cw - w) / 2;
  const oy = (ch - hh) / 2;
  Object.assign(el.style, {
    left: `${ox + box[0] * w}px`,
    top: `${oy + box[1] * hh}px`,
    width: `${(box[2] - box[0]) * w}px`,
    height: `${(box[3] - box[1]) * hh}px`,
    borderColor: classColor(cls),
  });
  el.hidden = false;
}
