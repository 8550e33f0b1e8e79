// Sightline's web UI: upload, library, player (hls.js), detections synced to the playhead,
// timeline, filters, statistics and re-rendering. Plain ES modules, no framework.
//
// Data use is bounded: detections are only ever fetched for a small span around the playhead
// (a 10 s window when that span is sparse, one sampled frame per second when it is dense), a few
// spans are cached, and the timeline and charts come from the pre-aggregated stats endpoint.

const TERMINAL = new Set(['ready', 'failed', 'interrupted']);
const WINDOW_S = 10; // detections are fetched in windows of this many seconds…
const SPARSE_MAX = 60; // …when the stats say the window holds at most this many detections;
const WINDOW_LIMIT = 2 * SPARSE_MAX; // a window answer this long means it was dense after all
const SNAP_LIMIT = 25; // otherwise one frame per second is fetched, at most this many rows
const NEAR_S = 5; // in window mode, rows within this many seconds of the playhead are listed
const LIST_MAX = 40;
const CACHE_MAX = 24;
const TIMELINE_BINS = 150; // at most this many histogram bins, whatever the duration
// The server's box colours (actors/src/render/colour.rs), indexed by class id.
const PALETTE = ['#e62828', '#ff8c00', '#ffdc00', '#a0e61e', '#28b43c', '#3ce6aa', '#00c8e6', '#3c8cff', '#1e32c8', '#8c3ce6',
  '#e632d2', '#ff78aa', '#800020', '#965a1e', '#787800', '#006428', '#007878', '#00286e', '#5a0078', '#962864', '#d2b482',
  '#beaaff', '#fa9678'];
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (sel) => document.querySelector(sel);

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Creates an element: h('button', {class: 'x', onclick: f}, 'text', child…). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fmtTime(s, tenths = false) {
  if (!Number.isFinite(s) || s < 0) s = 0;
  const m = Math.floor(s / 60);
  const sec = s - m * 60;
  const whole = Math.floor(sec);
  let out = `${m}:${String(whole).padStart(2, '0')}`;
  if (tenths) out += `.${Math.floor((sec - whole) * 10)}`;
  return out;
}

const fmtInt = (n) => Number(n || 0).toLocaleString('en-US');
const pct = (x) => `${Math.round(Math.max(0, Math.min(1, x || 0)) * 100)}%`;

/**
 * A class's colour: the one the server draws its boxes in, by class id. Ids come with the stats
 * (when they carry `class_id`) or with detection rows, and are remembered per model; a class
 * whose id is not known yet gets a stand-in colour until it is.
 */
const classIds = new Map(); // class name -> class id
let classIdsKey = '';
function classColor(name) {
  const id = classIds.get(name);
  if (id !== undefined) return PALETTE[id % PALETTE.length];
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

function loadClassIds(model) {
  classIdsKey = `sightline.classIds.${model}`;
  classIds.clear();
  try {
    for (const [k, v] of Object.entries(JSON.parse(localStorage.getItem(classIdsKey) || '{}'))) classIds.set(k, v);
  } catch {
    /* storage unavailable or spoilt: learn again */
  }
}

/** Learns class ids from stats classes or detection rows; true when one was new. */
function learnClassIds(items, field) {
  let learned = false;
  for (const d of items) {
    const id = d[field];
    if (Number.isInteger(id) && classIds.get(d.class) !== id) {
      classIds.set(d.class, id);
      learned = true;
    }
  }
  if (learned && classIdsKey) {
    try {
      localStorage.setItem(classIdsKey, JSON.stringify(Object.fromEntries(classIds)));
    } catch {
      /* not persisted: fine */
    }
  }
  return learned;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Reads a failed response's `{error, message}` body, or makes one up from the status. */
function errorFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === 'string') return new ApiError(status, body.error || '', body.message);
  } catch {
    /* not JSON */
  }
  return new ApiError(status, '', `the server answered ${status}`);
}

/** GET/POST/DELETE returning {status, body}; 4xx/5xx become ApiError with the server's message. */
async function api(url, { method = 'GET', json } = {}) {
  const init = { method, headers: {} };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'the server could not be reached');
  }
  const text = resp.status === 204 ? '' : await resp.text();
  if (!resp.ok) throw errorFrom(resp.status, text);
  return { status: resp.status, body: text ? JSON.parse(text) : null };
}

// ---------------------------------------------------------------------------------------------
// Server-sent events: one EventSource per video, shared, closed when the job has ended.

const follows = new Map(); // id -> {es, subs: Set, retry}

function follow(id, cb) {
  let f = follows.get(id);
  if (!f) {
    f = { es: null, subs: new Set(), retry: null };
    follows.set(id, f);
    openEvents(id, f);
  }
  f.subs.add(cb);
  return () => {
    f.subs.delete(cb);
    if (f.subs.size === 0) closeFollow(id);
  };
}

function closeFollow(id) {
  const f = follows.get(id);
  if (!f) return;
  if (f.es) f.es.close();
  clearTimeout(f.retry);
  follows.delete(id);
}

function deliver(id, ev) {
  const f = follows.get(id);
  if (!f) return;
  for (const cb of [...f.subs]) cb(ev);
  if (TERMINAL.has(ev.status) || ev.status === 'deleted') closeFollow(id);
}

function openEvents(id, f) {
  const es = new EventSource(`/api/videos/${encodeURIComponent(id)}/events`);
  f.es = es;
  es.onmessage = (m) => {
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return;
    }
    deliver(id, ev);
  };
  es.onerror = () => {
    // The stream ends when the job ends (or the server went away): do not let EventSource
    // reconnect on its own; ask once what became of the video, and follow again if need be.
    es.close();
    if (follows.get(id) !== f) return;
    clearTimeout(f.retry);
    f.retry = setTimeout(async () => {
      if (follows.get(id) !== f) return;
      try {
        const { body } = await api(`/api/videos/${encodeURIComponent(id)}`);
        const ev = { kind: 'status', status: body.status, progress: body.progress, frames_done: body.frames_done, detections: body.detections, playable_segments: 0, error: body.error };
        deliver(id, ev);
        if (!TERMINAL.has(body.status) && follows.get(id) === f) openEvents(id, f);
      } catch (e) {
        if (e.status === 404) deliver(id, { kind: 'status', status: 'deleted' });
        else if (follows.get(id) === f) f.retry = setTimeout(() => openEvents(id, f), 3000);
      }
    }, 1000);
  };
}

// ---------------------------------------------------------------------------------------------
// Upload

const uploadsEl = $('#uploads');

function uploadOptions() {
  const out = {};
  const conf = $('#opt-confidence').value.trim();
  const classes = $('#opt-classes').value.trim();
  const every = $('#opt-every').value.trim();
  if (conf !== '') out.confidence = conf;
  if (classes !== '') out.classes = classes;
  if (every !== '') out.every = every;
  return out;
}

function upload(file) {
  const upBar = h('progress', { max: 1, value: 0, class: 'bar', 'aria-label': `Upload of ${file.name}` });
  const procBar = h('progress', { max: 1, value: 0, class: 'bar', 'aria-label': `Processing of ${file.name}`, hidden: true });
  const text = h('p', { class: 'upload-text' }, 'Uploading…');
  const actions = h('div', { class: 'upload-actions' });
  const item = h('li', { class: 'upload', dataset: { phase: 'uploading' } },
    h('div', { class: 'upload-name' }, file.name, h('span', { class: 'muted small' }, ` · ${(file.size / 1048576).toFixed(1)} MiB`)),
    h('div', { class: 'bars' }, h('span', { class: 'bar-label' }, 'Upload'), upBar),
    h('div', { class: 'bars proc' }, h('span', { class: 'bar-label' }, 'Processing'), procBar),
    text, actions);
  item.querySelector('.proc').hidden = true;
  uploadsEl.prepend(item);

  const setPhase = (phase) => {
    item.dataset.phase = phase;
  };
  const fail = (message) => {
    setPhase('rejected');
    item.classList.add('error');
    text.textContent = '';
    text.append(h('strong', {}, 'Not accepted: '), message);
    text.setAttribute('role', 'alert');
    actions.append(h('button', { type: 'button', class: 'button small', onclick: () => item.remove() }, 'Dismiss'));
  };

  const form = new FormData();
  form.append('file', file, file.name);
  for (const [k, v] of Object.entries(uploadOptions())) form.append(k, v);

  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/videos');
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable && e.total > 0) {
      upBar.value = e.loaded / e.total;
      text.textContent = `Uploading… ${pct(e.loaded / e.total)}`;
    }
  };
  xhr.upload.onload = () => {
    upBar.value = 1;
    text.textContent = 'Uploaded; checking the file…';
  };
  xhr.onerror = () => fail('the upload failed: the server could not be reached.');
  xhr.onabort = () => fail('the upload was cancelled.');
  xhr.onload = () => {
    if (xhr.status !== 202) {
      const err = errorFrom(xhr.status, xhr.responseText);
      const why = {
        413: 'The file is too large. ',
        415: 'This is not a video the server can decode. ',
        422: 'The file has no video stream. ',
        503: 'The server is busy; try again later. ',
      }[xhr.status] || '';
      fail(`${why}${err.message} (HTTP ${xhr.status})`);
      return;
    }
    let accepted;
    try {
      accepted = JSON.parse(xhr.responseText);
    } catch {
      fail('the server sent an unreadable answer.');
      return;
    }
    const id = accepted.id;
    upBar.value = 1;
    setPhase('processing');
    item.dataset.id = id;
    item.querySelector('.proc').hidden = false;
    procBar.hidden = false;
    text.textContent = 'Queued for processing…';
    actions.append(h('button', { type: 'button', class: 'button small', onclick: () => openVideo(id, { autoplay: true }) }, 'Open in player'));
    follow(id, (ev) => {
      if (ev.status === 'deleted') {
        setPhase('deleted');
        text.textContent = 'Deleted.';
        return;
      }
      procBar.value = ev.progress || 0;
      if (ev.status === 'queued') text.textContent = 'Queued for processing…';
      else if (ev.status === 'processing') text.textContent = `Processing… ${pct(ev.progress)} · ${fmtInt(ev.frames_done)} frames · ${fmtInt(ev.detections)} detections`;
      else if (ev.status === 'ready') {
        procBar.value = 1;
        setPhase('ready');
        text.textContent = `Ready · ${fmtInt(ev.detections)} detections`;
      } else {
        setPhase(ev.status);
        item.classList.add('error');
        text.textContent = `Processing ${ev.status}${ev.error ? `: ${ev.error}` : ''}`;
      }
      libraryUpdate(id, ev);
    });
    loadLibrary();
    openVideo(id, { autoplay: true });
  };
  xhr.send(form);
}

function setupUpload() {
  const input = $('#file-input');
  const zone = $('#dropzone');
  input.addEventListener('change', () => {
    for (const f of input.files) upload(f);
    input.value = '';
  });
  const over = (on) => (e) => {
    e.preventDefault();
    zone.classList.toggle('over', on);
  };
  zone.addEventListener('dragenter', over(true));
  zone.addEventListener('dragover', over(true));
  zone.addEventListener('dragleave', over(false));
  zone.addEventListener('drop', (e) => {
    over(false)(e);
    for (const f of e.dataTransfer.files) upload(f);
  });
  // A file dropped next to the zone should not make the browser navigate away to it.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}

// ---------------------------------------------------------------------------------------------
// Library

const library = { items: new Map(), next: null, timer: null };
const libraryEl = $('#library');

async function loadLibrary(more = false) {
  const msg = $('#library-message');
  try {
    const q = new URLSearchParams({ limit: '24' });
    if (more && library.next) q.set('after', library.next);
    const { body } = await api(`/api/videos?${q}`);
    if (!more) {
      library.items.clear();
      libraryEl.replaceChildren();
    }
    for (const v of body.items) {
      library.items.set(v.id, v);
      libraryEl.append(card(v));
    }
    library.next = body.next || null;
    $('#library-more').hidden = !library.next;
    msg.textContent = library.items.size ? '' : 'No videos yet: upload one above.';
  } catch (e) {
    msg.textContent = `Could not load the library: ${e.message}`;
  }
  scheduleLibraryRefresh();
}

/** While something is queued or processing (perhaps from another tab), refresh now and then. */
function scheduleLibraryRefresh() {
  clearTimeout(library.timer);
  const busy = [...library.items.values()].some((v) => !TERMINAL.has(v.status));
  if (busy) library.timer = setTimeout(() => (document.hidden ? scheduleLibraryRefresh() : loadLibrary()), 5000);
}

function posterBox(v) {
  const ratio = v.width && v.height ? `${v.width} / ${v.height}` : '16 / 9';
  return h('span', { class: 'poster-box', style: `aspect-ratio: ${ratio}` },
    h('span', { class: 'poster-res' }, v.width && v.height ? `${v.width}×${v.height}` : 'video'),
    h('span', { class: 'poster-dur' }, fmtTime(v.duration_ms / 1000)));
}

function card(v) {
  const del = h('button', { type: 'button', class: 'button small danger', 'aria-label': `Delete ${v.filename}` }, 'Delete');
  let armed = null;
  del.addEventListener('click', async () => {
    if (!armed) {
      del.textContent = 'Confirm delete';
      armed = setTimeout(() => {
        armed = null;
        del.textContent = 'Delete';
      }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    del.disabled = true;
    try {
      await api(`/api/videos/${encodeURIComponent(v.id)}`, { method: 'DELETE' });
      library.items.delete(v.id);
      el.remove();
      if (player.video && player.video.id === v.id) closePlayer();
      $('#library-message').textContent = `Deleted ${v.filename}.`;
    } catch (e) {
      $('#library-message').textContent = `Could not delete ${v.filename}: ${e.message}`;
      del.disabled = false;
      del.textContent = 'Delete';
    }
  });
  const play = () => openVideo(v.id, { autoplay: true });
  const el = h('li', { class: 'card', dataset: { id: v.id, status: v.status } },
    // The Play button below is the keyboard's way in; the poster is a mouse target only.
    h('button', { type: 'button', class: 'poster', onclick: play, tabindex: -1, 'aria-hidden': 'true' }, posterBox(v)),
    h('div', { class: 'card-body' },
      h('h3', { class: 'card-title', title: v.filename }, v.filename),
      h('p', { class: 'card-meta' },
        h('span', { class: `badge ${v.status}` }, v.status),
        ' ', h('span', { class: 'card-progress' }, v.status === 'processing' ? pct(v.progress) : ''),
        h('br'),
        `${fmtTime(v.duration_ms / 1000)} · `, h('span', { class: 'card-dets' }, fmtInt(v.detections)), ' detections'),
      v.error ? h('p', { class: 'card-error small' }, v.error) : null,
      h('div', { class: 'card-actions' },
        h('button', { type: 'button', class: 'button small', onclick: play }, 'Play'), del)));
  return el;
}

/** Applies a live event to the video's card, if it is listed. */
function libraryUpdate(id, ev) {
  const v = library.items.get(id);
  const el = libraryEl.querySelector(`li.card[data-id="${CSS.escape(id)}"]`);
  if (!v || !el) return;
  Object.assign(v, { status: ev.status, progress: ev.progress, detections: ev.detections, error: ev.error });
  el.dataset.status = ev.status;
  const badge = el.querySelector('.badge');
  badge.className = `badge ${ev.status}`;
  badge.textContent = ev.status;
  el.querySelector('.card-progress').textContent = ev.status === 'processing' ? pct(ev.progress) : '';
  el.querySelector('.card-dets').textContent = fmtInt(ev.detections);
}

// ---------------------------------------------------------------------------------------------
// Player

const videoEl = $('#video');
const playerEl = $('#player');
const player = {
  session: 0, // bumped whenever another video is opened; stale async work checks it and stops
  video: null, // the Video record
  live: null, // the latest event: status, progress, frames_done, detections
  hls: null,
  source: 'original',
  renders: [],
  unfollow: null,
  stats: null,
  statsAt: 0,
  statsUpTo: 0, // seconds of video the stats covered when fetched
  statsTimer: null,
};

function closePlayer() {
  player.session++;
  teardownMedia();
  if (player.unfollow) player.unfollow();
  player.unfollow = null;
  player.video = null;
  $('#player-section').hidden = true;
  history.replaceState(null, '', location.pathname);
}

function teardownMedia() {
  if (player.hls) {
    player.hls.destroy();
    player.hls = null;
  }
  if (videoEl.getAttribute('src')) {
    videoEl.removeAttribute('src');
    videoEl.load();
  }
  const q = $('#quality');
  q.replaceChildren(h('option', { value: '-1' }, 'Auto'));
  q.disabled = true;
  $('#now-playing').textContent = '';
}

function setStatusLine() {
  const v = player.video;
  if (!v) return;
  const live = player.live || v;
  playerEl.dataset.status = live.status;
  playerEl.dataset.progress = String(live.status === 'ready' ? 1 : live.progress || 0);
  const parts = [live.status === 'processing' ? `Processing ${pct(live.progress)}` : live.status];
  parts.push(`${fmtInt(live.detections)} detections`);
  parts.push(`${v.width}×${v.height}, ${fmtTime(v.duration_ms / 1000)}`);
  if (live.status === 'processing') parts.push('plays while processing continues');
  if (live.error) parts.push(live.error);
  $('#player-status').textContent = parts.join(' · ');
  $('#render-button').disabled = live.status !== 'ready';
  $('#render-button').title = live.status === 'ready' ? '' : 'Available once the video is ready';
}

/** Seconds of the video that have been processed (detections exist up to here). */
function processedSeconds() {
  const v = player.video;
  if (!v) return 0;
  const live = player.live || v;
  if (live.status === 'ready') return Infinity;
  if (v.fps > 0 && live.frames_done) return live.frames_done / v.fps;
  return (live.progress || 0) * (v.duration_ms / 1000);
}

async function openVideo(id, { autoplay = false } = {}) {
  if (player.video && player.video.id === id) {
    if (autoplay && videoEl.paused && player.hls) videoEl.play().catch(() => {});
    $('#player-section').scrollIntoView({ block: 'start', behavior: 'smooth' });
    return;
  }
  closePlayer();
  const session = player.session;
  let v;
  try {
    ({ body: v } = await api(`/api/videos/${encodeURIComponent(id)}`));
  } catch (e) {
    $('#library-message').textContent = `Could not open video ${id}: ${e.message}`;
    return;
  }
  if (session !== player.session) return;
  player.video = v;
  player.live = null;
  player.source = 'original';
  player.stats = null;
  loadClassIds(v.model || '');
  filters.excluded.clear();
  detections.cache.clear();
  detections.dense.clear();
  history.replaceState(null, '', `#v=${encodeURIComponent(id)}`);
  $('#player-title').textContent = v.filename;
  $('#player-section').hidden = false;
  playerEl.dataset.source = 'original';
  $('#rendition').replaceChildren(h('option', { value: 'original' }, 'Original'));
  $('#render-status').textContent = '';
  $('#det-rows').replaceChildren();
  $('#detections-note').textContent = '';
  $('#stats-summary').textContent = '';
  fillClassFilter(true);
  drawClassChart();
  setStatusLine();
  drawTimeline();
  loadStats();
  if (!TERMINAL.has(v.status)) {
    player.unfollow = follow(id, (ev) => onVideoEvent(session, ev));
  } else if (v.status === 'ready') {
    loadRenders(session);
  }
  const master = await waitPlayable(session);
  if (!master || session !== player.session) return;
  attach(master, 0, autoplay, session);
  if (autoplay) $('#player-section').scrollIntoView({ block: 'start' });
}

function onVideoEvent(session, ev) {
  if (session !== player.session) return;
  if (ev.status === 'deleted') {
    closePlayer();
    return;
  }
  const wasTerminal = player.live && TERMINAL.has(player.live.status);
  player.live = ev;
  setStatusLine();
  drawTimelineFrontier();
  const now = performance.now();
  if (TERMINAL.has(ev.status) && !wasTerminal) {
    loadStats();
    detections.cache.clear();
    updateDetections();
    if (ev.status === 'ready') loadRenders(session);
  } else if (now - player.statsAt > 5000) {
    loadStats();
  }
}

/** Polls the stream state until something is playable; returns the master playlist URL. */
async function waitPlayable(session) {
  const v = player.video;
  for (let attempt = 0; session === player.session; attempt++) {
    try {
      const { status, body } = await api(`/api/videos/${encodeURIComponent(v.id)}/stream`);
      if (status === 200 && body.master) return body.master;
      if (body.status === 'failed' || body.status === 'interrupted') {
        $('#now-playing').textContent = `Nothing to play: the job ${body.status}.`;
        return null;
      }
      $('#now-playing').textContent = body.status === 'queued' ? 'Waiting for the job to start…' : 'Waiting for the first segment…';
    } catch (e) {
      $('#now-playing').textContent = `Cannot play: ${e.message}`;
      if (e.status === 404) return null;
    }
    await sleep(attempt < 30 ? 1000 : 3000);
  }
  return null;
}

function attach(master, startAt, autoplay, session) {
  teardownMedia();
  const Hls = window.Hls;
  if (Hls && Hls.isSupported()) {
    const hls = new Hls({
      startPosition: startAt, // from the start (or where we were), not the live edge
      liveDurationInfinity: false, // duration grows with the EVENT playlists, so seeking works
      enableWorker: true,
    });
    player.hls = hls;
    let networkRetries = 0;
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      if (session !== player.session) return;
      fillQuality(hls);
      if (autoplay) videoEl.play().catch(() => {});
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, () => showLevel(hls));
    hls.on(Hls.Events.FRAG_LOADED, () => {
      networkRetries = 0;
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && networkRetries++ < 5) {
        console.warn(`hls.js: ${data.details}; retrying`);
        setTimeout(() => player.hls === hls && hls.startLoad(), 1000 * networkRetries);
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && networkRetries++ < 5) {
        console.warn(`hls.js: ${data.details}; recovering`);
        hls.recoverMediaError();
      } else {
        console.error(`hls.js fatal error: ${data.details}`);
        videoEl.dispatchEvent(new CustomEvent('hlsfatal', { detail: data.details }));
        $('#now-playing').textContent = `Playback failed (${data.details}).`;
        hls.destroy();
        if (player.hls === hls) player.hls = null;
      }
    });
    hls.loadSource(master);
    hls.attachMedia(videoEl);
  } else if (videoEl.canPlayType('application/vnd.apple.mpegurl')) {
    // Safari (and other browsers with native HLS): the browser picks the quality itself.
    videoEl.src = master;
    videoEl.addEventListener('loadedmetadata', () => {
      if (startAt > 0) videoEl.currentTime = startAt;
      if (autoplay) videoEl.play().catch(() => {});
    }, { once: true });
    $('#now-playing').textContent = 'Quality: chosen by the browser (native HLS)';
  } else {
    $('#now-playing').textContent = 'This browser cannot play HLS video.';
  }
}

function fillQuality(hls) {
  const q = $('#quality');
  const levels = hls.levels.map((l, i) => ({ i, height: l.height, bitrate: l.bitrate }));
  levels.sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
  q.replaceChildren(h('option', { value: '-1' }, 'Auto'),
    ...levels.map((l) => h('option', { value: String(l.i) }, `${l.height}p · ${Math.round(l.bitrate / 1000)} kb/s`)));
  q.value = '-1';
  q.disabled = levels.length < 2;
  showLevel(hls);
}

function showLevel(hls) {
  const l = hls.levels[hls.currentLevel];
  const what = hls.autoLevelEnabled ? 'Auto' : 'Fixed';
  $('#now-playing').textContent = l ? `${what} · playing ${l.height}p` : '';
}

function setupPlayer() {
  $('#quality').addEventListener('change', (e) => {
    if (player.hls) player.hls.currentLevel = Number(e.target.value);
  });
  $('#rendition').addEventListener('change', (e) => switchSource(e.target.value));
  videoEl.addEventListener('timeupdate', onTime);
  videoEl.addEventListener('seeked', onTime);
  videoEl.addEventListener('error', () => {
    const err = videoEl.error;
    if (err && !player.hls) $('#now-playing').textContent = `Playback error: ${err.message || err.code}`;
  });
}

function onTime() {
  drawPlayhead();
  updateDetections();
}

function seek(t) {
  if (!player.video) return;
  const max = player.video.duration_ms / 1000;
  t = Math.max(0, Math.min(max, t));
  // While processing, only what has been written can be played.
  const s = videoEl.seekable;
  if (s && s.length) t = Math.min(t, s.end(s.length - 1) - 0.1);
  videoEl.currentTime = Math.max(0, t);
}

// ---------------------------------------------------------------------------------------------
// Renditions: the original, and renderings made from the stored detections.

async function loadRenders(session) {
  const v = player.video;
  try {
    const { body } = await api(`/api/videos/${encodeURIComponent(v.id)}/renders`);
    if (session !== player.session) return;
    player.renders = body;
    fillRenditions();
  } catch {
    /* renderings are optional */
  }
}

function renderLabel(r) {
  const classes = r.options && Array.isArray(r.options.classes) && r.options.classes.length ? r.options.classes.join(', ') : 'all classes';
  return `Rendering ${r.number} (${classes})${r.status === 'ready' ? '' : ` — ${r.status}`}`;
}

function fillRenditions() {
  const sel = $('#rendition');
  const keep = player.source;
  sel.replaceChildren(h('option', { value: 'original' }, 'Original'),
    ...player.renders.filter((r) => r.status !== 'failed').map((r) => h('option', { value: String(r.number) }, renderLabel(r))));
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : 'original';
}

function switchSource(value) {
  const v = player.video;
  if (!v) return;
  const t = videoEl.currentTime || 0;
  const playing = !videoEl.paused;
  const master = value === 'original' ? v.links.master : (player.renders.find((r) => String(r.number) === value) || {}).master;
  if (!master) return;
  player.source = value;
  playerEl.dataset.source = value === 'original' ? 'original' : `render:${value}`;
  $('#rendition').value = value;
  attach(master, t, playing || value !== 'original', player.session);
}

async function startRender() {
  const v = player.video;
  if (!v) return;
  const session = player.session;
  const btn = $('#render-button');
  const status = $('#render-status');
  const included = filters.included();
  if (included !== null && included.length === 0) {
    status.textContent = 'Select at least one class to render.';
    return;
  }
  const body = {
    classes: included === null ? [] : included,
    opacity: Number($('#render-opacity').value) || 1,
    thickness: Math.round(Number($('#render-thickness').value) || 2),
    labels: $('#render-labels').checked,
  };
  btn.disabled = true;
  status.textContent = 'Starting a rendering…';
  let r;
  try {
    ({ body: r } = await api(`/api/videos/${encodeURIComponent(v.id)}/renders`, { method: 'POST', json: body }));
  } catch (e) {
    status.textContent = `Could not render: ${e.message}`;
    btn.disabled = false;
    return;
  }
  const note = filters.minConf() > 0 ? ' (the confidence filter does not apply to renderings)' : '';
  for (let i = 0; session === player.session; i++) {
    if (r.status === 'failed' || r.status === 'interrupted') {
      status.textContent = `Rendering ${r.number} ${r.status}${r.error ? `: ${r.error}` : ''}`;
      break;
    }
    const playable = r.status === 'ready' || (r.status === 'processing' && i % 2 === 1 && (await hasSegments(r.master)));
    if (session !== player.session) return;
    if (playable) {
      status.textContent = `Playing rendering ${r.number}${r.status === 'ready' ? '' : ' while it is being made'}${note}.`;
      const idx = player.renders.findIndex((x) => x.number === r.number);
      if (idx >= 0) player.renders[idx] = r;
      else player.renders.push(r);
      fillRenditions();
      switchSource(String(r.number));
      if (r.status !== 'ready') followRender(session, r);
      break;
    }
    status.textContent = `Rendering ${r.number}: ${r.status}…`;
    await sleep(1000);
    try {
      ({ body: r } = await api(r.url));
    } catch (e) {
      status.textContent = `Lost track of rendering ${r.number}: ${e.message}`;
      break;
    }
  }
  btn.disabled = !(player.live || player.video) || (player.live || player.video).status !== 'ready';
}

/** Keeps the version list's label right until the rendering has finished. */
async function followRender(session, r) {
  while (session === player.session && !TERMINAL.has(r.status)) {
    await sleep(2000);
    try {
      ({ body: r } = await api(r.url));
    } catch {
      return;
    }
  }
  if (session !== player.session) return;
  const idx = player.renders.findIndex((x) => x.number === r.number);
  if (idx >= 0) player.renders[idx] = r;
  fillRenditions();
}

/** True when the master playlist's first variant lists at least one segment. */
async function hasSegments(master) {
  try {
    const m = await fetch(master, { cache: 'no-store' });
    if (!m.ok) return false;
    const uri = (await m.text()).split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
    if (!uri) return false;
    const p = await fetch(new URL(uri, new URL(master, location.href)), { cache: 'no-store' });
    return p.ok && (await p.text()).includes('#EXTINF');
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Filters

const filters = {
  excluded: new Set(), // classes switched off; new classes appear switched on
  minConf: () => Number($('#min-confidence').value) || 0,
  /** The classes to ask for, or null for every class. */
  included() {
    if (this.excluded.size === 0) return null;
    return knownClasses().filter((c) => !this.excluded.has(c));
  },
  key() {
    const inc = this.included();
    return `${inc === null ? '*' : inc.join(',')}|${this.minConf()}`;
  },
  shows: (cls) => !filters.excluded.has(cls),
};

function knownClasses() {
  return player.stats ? player.stats.classes.map((c) => c.class) : [];
}

/** Draws what shows class colours again, once a class id (so its colour) has been learned. */
function recolour() {
  fillClassFilter(true);
  drawTimeline();
  drawClassChart();
  detections.rendered = '';
}

function fillClassFilter(force = false) {
  const list = $('#class-list');
  const classes = player.stats ? [...player.stats.classes].sort((a, b) => b.detections - a.detections) : [];
  const have = [...list.querySelectorAll('input')].map((i) => i.value).join(',');
  if (!force && have === classes.map((c) => c.class).join(',')) {
    for (const c of classes) {
      const count = list.querySelector(`[data-count="${CSS.escape(c.class)}"]`);
      if (count) count.textContent = fmtInt(c.detections);
    }
    return;
  }
  if (!classes.length) {
    list.replaceChildren(h('span', { class: 'muted' }, 'No detections yet.'));
    return;
  }
  list.replaceChildren(...classes.map((c) => {
    const id = `cls-${c.class.replace(/[^a-z0-9]+/gi, '-')}`;
    return h('div', { class: 'class-item' },
      h('input', { type: 'checkbox', id, value: c.class, checked: filters.shows(c.class), onchange: (e) => {
        if (e.target.checked) filters.excluded.delete(c.class);
        else filters.excluded.add(c.class);
        filtersChanged();
      } }),
      h('label', { for: id },
        h('span', { class: 'swatch', style: `background:${classColor(c.class)}` }), c.class,
        ' ', h('span', { class: 'muted small', dataset: { count: c.class } }, fmtInt(c.detections))));
  }));
}

function filtersChanged() {
  detections.rendered = '';
  $('#det-rows').replaceChildren(); // the rows shown no longer match
  drawTimeline();
  drawClassChart();
  updateDetections();
}

function setupFilters() {
  const range = $('#min-confidence');
  const out = $('#min-confidence-out');
  range.addEventListener('input', () => {
    out.value = Number(range.value).toFixed(2);
  });
  range.addEventListener('change', filtersChanged);
  $('#classes-all').addEventListener('click', () => {
    filters.excluded.clear();
    for (const i of $('#class-list').querySelectorAll('input')) i.checked = true;
    filtersChanged();
  });
  $('#classes-none').addEventListener('click', () => {
    for (const c of knownClasses()) filters.excluded.add(c);
    for (const i of $('#class-list').querySelectorAll('input')) i.checked = false;
    filtersChanged();
  });
  $('#render-button').addEventListener('click', startRender);
}

// ---------------------------------------------------------------------------------------------
// Stats: the timeline (activity over time) and the class distribution.

async function loadStats() {
  const v = player.video;
  if (!v) return;
  const session = player.session;
  player.statsAt = performance.now();
  const dur = v.duration_ms / 1000;
  const bin = Math.max(1, Math.ceil(dur / TIMELINE_BINS));
  const upTo = processedSeconds();
  try {
    const { body } = await api(`/api/videos/${encodeURIComponent(v.id)}/stats?bin=${bin}`);
    if (session !== player.session) return;
    player.stats = body;
    player.statsUpTo = upTo;
  } catch {
    return;
  }
  learnClassIds(player.stats.classes, 'class_id');
  fillClassFilter();
  drawTimeline();
  drawClassChart();
  const s = player.stats;
  const tracks = s.classes.reduce((a, c) => a + c.unique_tracks, 0);
  $('#stats-summary').textContent = `${fmtInt(s.total_detections)} detections in ${fmtInt(s.frames_with_detections)} frames` +
    (tracks ? ` · ${fmtInt(tracks)} tracks` : '') + ` · ${s.classes.length} classes`;
  updateDetections();
}

const timeline = { playhead: null, frontier: null };

function drawTimeline() {
  const el = $('#timeline');
  const v = player.video;
  const W = 1000;
  const H = 60;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' });
  root.append(svg('rect', { x: 0, y: 0, width: W, height: H, class: 'tl-bg' }));
  const legend = $('#timeline-legend');
  legend.replaceChildren();
  if (v && player.stats && player.stats.histogram.length) {
    const dur = Math.max(0.001, v.duration_ms / 1000);
    const s = player.stats;
    const classes = s.classes.map((c) => c.class).filter(filters.shows);
    let max = 1;
    for (const b of s.histogram) {
      let sum = 0;
      for (const c of classes) sum += b.counts[c] || 0;
      max = Math.max(max, sum);
    }
    const bw = (s.bin_seconds / dur) * W;
    for (const b of s.histogram) {
      let y = H;
      const x = (b.start / dur) * W;
      for (const c of classes) {
        const n = b.counts[c] || 0;
        if (!n) continue;
        const hgt = (n / max) * (H - 4);
        y -= hgt;
        const r = svg('rect', { x: x.toFixed(2), y: y.toFixed(2), width: Math.max(0.5, bw - 0.3).toFixed(2), height: hgt.toFixed(2), fill: classColor(c) });
        const title = svg('title', {});
        title.textContent = `${fmtTime(b.start)}: ${n} ${c}`;
        r.append(title);
        root.append(r);
      }
    }
    legend.append(...classes.map((c) => h('span', { class: 'legend-item' }, h('span', { class: 'swatch', style: `background:${classColor(c)}` }), c)));
    $('#timeline-note').textContent = `${s.bin_seconds} s bins · class filter applied${filters.minConf() > 0 ? '; counts include every confidence' : ''}`;
  } else {
    $('#timeline-note').textContent = v ? 'No detections yet.' : '';
  }
  timeline.frontier = svg('rect', { x: W, y: 0, width: 0, height: H, class: 'tl-unprocessed' });
  timeline.playhead = svg('line', { x1: 0, x2: 0, y1: 0, y2: H, class: 'tl-playhead' });
  root.append(timeline.frontier, timeline.playhead);
  el.replaceChildren(root);
  if (v) {
    el.setAttribute('aria-valuemax', String(Math.round(v.duration_ms / 1000)));
  }
  drawTimelineFrontier();
  drawPlayhead();
}

function drawTimelineFrontier() {
  const v = player.video;
  if (!v || !timeline.frontier) return;
  const done = Math.min(1, processedSeconds() / Math.max(0.001, v.duration_ms / 1000));
  timeline.frontier.setAttribute('x', String(done * 1000));
  timeline.frontier.setAttribute('width', String((1 - done) * 1000));
}

function drawPlayhead() {
  const v = player.video;
  if (!v || !timeline.playhead) return;
  const t = videoEl.currentTime || 0;
  const x = (t / Math.max(0.001, v.duration_ms / 1000)) * 1000;
  timeline.playhead.setAttribute('x1', x.toFixed(1));
  timeline.playhead.setAttribute('x2', x.toFixed(1));
  const el = $('#timeline');
  el.setAttribute('aria-valuenow', String(Math.round(t)));
  el.setAttribute('aria-valuetext', `${fmtTime(t)} of ${fmtTime(v.duration_ms / 1000)}`);
}

function setupTimeline() {
  const el = $('#timeline');
  el.addEventListener('click', (e) => {
    if (!player.video) return;
    const r = el.getBoundingClientRect();
    seek(((e.clientX - r.left) / r.width) * (player.video.duration_ms / 1000));
  });
  el.addEventListener('keydown', (e) => {
    if (!player.video) return;
    const t = videoEl.currentTime || 0;
    const step = { ArrowLeft: -5, ArrowRight: 5, ArrowDown: -5, ArrowUp: 5, PageDown: -30, PageUp: 30 }[e.key];
    if (step !== undefined) seek(t + step);
    else if (e.key === 'Home') seek(0);
    else if (e.key === 'End') seek(Infinity);
    else return;
    e.preventDefault();
  });
}

function drawClassChart() {
  const el = $('#class-chart');
  const s = player.stats;
  if (!s || !s.classes.length) {
    el.replaceChildren();
    return;
  }
  const classes = [...s.classes].sort((a, b) => b.detections - a.detections);
  const max = Math.max(1, ...classes.map((c) => c.detections));
  const rowH = 22;
  const W = Math.max(280, Math.min(720, el.clientWidth || 600));
  const labelW = Math.min(110, W * 0.3);
  const root = svg('svg', { viewBox: `0 0 ${W} ${classes.length * rowH}`, width: W, height: classes.length * rowH, role: 'img', 'aria-labelledby': 'class-chart-title' });
  const title = svg('title', { id: 'class-chart-title' });
  title.textContent = `Detections per class: ${classes.map((c) => `${c.class} ${c.detections}`).join(', ')}`;
  root.append(title);
  classes.forEach((c, i) => {
    const y = i * rowH;
    const on = filters.shows(c.class);
    const g = svg('g', { class: on ? '' : 'off' });
    const label = svg('text', { x: labelW - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end', class: 'chart-label' });
    label.textContent = c.class;
    const bw = Math.max(1, (c.detections / max) * (W - labelW - (W < 480 ? 110 : 140)));
    const bar = svg('rect', { x: labelW, y: y + 3, width: bw.toFixed(1), height: rowH - 6, fill: classColor(c.class), rx: 2 });
    const value = svg('text', { x: labelW + bw + 6, y: y + rowH / 2 + 4, class: 'chart-value' });
    value.textContent = fmtInt(c.detections) + (c.unique_tracks ? ` · ${fmtInt(c.unique_tracks)} tracks` : '');
    g.append(label, bar, value);
    root.append(g);
  });
  el.replaceChildren(root);
}

// ---------------------------------------------------------------------------------------------
// Detections around the playhead, fetched by window, a few windows cached.

const detections = {
  cache: new Map(), // key -> {rows, complete, at} | {pending: Promise}
  dense: new Set(), // `filter|window` found denser than the stats said
  rendered: '',
  current: null,
};

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

function updateDetections() {
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

function setupDetections() {
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

// ---------------------------------------------------------------------------------------------

function start() {
  setupUpload();
  setupPlayer();
  setupFilters();
  setupTimeline();
  setupDetections();
  $('#library-refresh').addEventListener('click', () => loadLibrary());
  $('#library-more').addEventListener('click', () => loadLibrary(true));
  let resize = null;
  window.addEventListener('resize', () => {
    clearTimeout(resize);
    resize = setTimeout(drawClassChart, 150);
  });
  loadLibrary();
  const m = /^#v=([^&]+)/.exec(location.hash);
  if (m) openVideo(decodeURIComponent(m[1]));
}

start();
