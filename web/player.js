// Playback of the open video (hls.js, or the browser's own HLS), kept apart from opening a video
// (viewer.js) so the views that seek or follow the playhead can use it without needing the viewer.

import { api } from './api.js';
import { $, fmtInt, fmtTime, h, pct, sleep } from './dom.js';
import { player } from './state.js';

export const videoEl = $('#video');
export const playerEl = $('#player');

// Playback starts muted (browsers only autoplay silent video); a touch, click or key anywhere
// in the player's panel is a user gesture, which may turn the sound on.
function unmuteOnGesture() {
  if (player.video && player.video.has_audio && videoEl.muted) videoEl.muted = false;
}
for (const type of ['pointerdown', 'keydown']) $('#player-section').addEventListener(type, unmuteOnGesture);

export function closePlayer() {
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

export function setStatusLine() {
  const v = player.video;
  if (!v) return;
  const live = player.live || v;
  playerEl.dataset.status = live.status;
  playerEl.dataset.progress = String(live.status === 'ready' ? 1 : live.progress || 0);
  const running = live.status === 'processing';
  const parts = [v.kind === 'live' && running ? 'Live' : running ? `Processing ${pct(live.progress)}` : live.status];
  parts.push(`${fmtInt(live.detections)} detections`);
  if (v.kind === 'live') parts.push('live source: the stream follows the camera (state and latency under Live sources)');
  else parts.push(`${v.width}×${v.height}, ${fmtTime(v.duration_ms / 1000)}, ${v.has_audio ? 'with sound' : 'no sound'}`);
  if (live.status === 'processing' && v.kind !== 'live') parts.push('plays while processing continues');
  if (live.error) parts.push(live.error);
  for (const w of v.warnings || []) parts.push(w);
  $('#player-status').textContent = parts.join(' · ');
  $('#render-button').disabled = live.status !== 'ready';
  $('#render-button').title = live.status === 'ready' ? '' : 'Available once the video is ready';
}

/** Seconds of the video that have been processed (detections exist up to here). */
export function processedSeconds() {
  const v = player.video;
  if (!v) return 0;
  const live = player.live || v;
  if (live.status === 'ready') return Infinity;
  if (v.fps > 0 && live.frames_done) return live.frames_done / v.fps;
  return (live.progress || 0) * (v.duration_ms / 1000);
}

/** Polls the stream state until something is playable; returns the master playlist URL. */
export async function waitPlayable(session) {
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

export function attach(master, startAt, autoplay, session) {
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
  // Named by the short side, as the server names renditions (a portrait 720×1280 is 720p).
  const levels = hls.levels.map((l, i) => ({ i, height: Math.min(l.width, l.height), bitrate: l.bitrate }));
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
  $('#now-playing').textContent = l ? `${what} · playing ${Math.min(l.width, l.height)}p` : '';
}

export function seek(t) {
  if (!player.video) return;
  const max = player.video.duration_ms / 1000;
  t = Math.max(0, Math.min(max, t));
  // While processing, only what has been written can be played.
  const s = videoEl.seekable;
  if (s && s.length) t = Math.min(t, s.end(s.length - 1) - 0.1);
  videoEl.currentTime = Math.max(0, t);
}
