// Opening a video and keeping every view of it (status, versions, filters, stats, timeline,
// detections, zones and lines) in step with its job: the one module that knows about all of them.

import { api } from './api.js';
import { drawClassChart } from './charts.js';
import { loadClassIds } from './classes.js';
import { updateDetections } from './detections.js';
import { $, h } from './dom.js';
import { follow } from './events.js';
import { fillClassFilter } from './filters.js';
import { attach, closePlayer, playerEl, setStatusLine, videoEl, waitPlayable } from './player.js';
import { loadRenders, switchSource } from './renders.js';
import { TERMINAL, detections, filters, player } from './state.js';
import { loadStats } from './stats.js';
import { drawPlayhead, drawTimeline, drawTimelineFrontier } from './timeline.js';
import { loadRules } from './zones.js';

export async function openVideo(id, { autoplay = false } = {}) {
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
  // The element takes the picture's shape (upright: a portrait phone clip stands up).
  videoEl.style.aspectRatio = v.width > 0 && v.height > 0 ? `${v.width} / ${v.height}` : '';
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
  loadRules(session);
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
    if (ev.status === 'ready') {
      loadRenders(session);
      loadRules(session);
    }
  } else if (now - player.statsAt > 5000) {
    loadStats();
  }
}

export function setupPlayer() {
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
