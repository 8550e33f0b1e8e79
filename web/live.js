// Live sources: add a camera or live stream by URL, see each one's state, rates and latency
// (refreshed every 2 s while any runs), watch it in the player (hls.js follows a playlist without
// an end as live), stop it, start it again.

import { api } from './api.js';
import { $, fmtInt, h } from './dom.js';
import { openVideo } from './viewer.js';

const RUNNING = new Set(['connecting', 'live', 'reconnecting']);
const live = { timer: null };

export function setupLive() {
  $('#live-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const msg = $('#live-message');
    const url = $('#live-url').value.trim();
    const name = $('#live-name').value.trim();
    if (!url) return;
    $('#live-add').disabled = true;
    msg.textContent = 'Adding…';
    try {
      const { body } = await api('/api/live', { method: 'POST', json: name ? { url, name } : { url } });
      msg.textContent = `Added ${body.name}.`;
      $('#live-url').value = '';
      $('#live-name').value = '';
      await loadLive();
    } catch (err) {
      msg.textContent = `Could not add it: ${err.message}`;
    } finally {
      $('#live-add').disabled = false;
    }
  });
  loadLive();
}

export async function loadLive() {
  clearTimeout(live.timer);
  try {
    const { body } = await api('/api/live');
    $('#live-list').replaceChildren(...body.items.map(row));
    $('#live-empty').hidden = body.items.length > 0;
    if (body.items.some((s) => RUNNING.has(s.state))) {
      live.timer = setTimeout(() => loadLive(), 2000);
    }
  } catch (err) {
    $('#live-message').textContent = `Could not list the live sources: ${err.message}`;
  }
}

function figures(s) {
  if (s.state === 'failed' || s.state === 'stopped') return s.reason || '';
  const parts = [`${s.input_fps.toFixed(1)} fps in`, `${s.processed_fps.toFixed(1)} fps out`];
  if (s.latency_ms !== undefined) parts.push(`latency ${(s.latency_ms / 1000).toFixed(1)} s`);
  if (s.dropped_detections) parts.push(`${fmtInt(s.dropped_detections)} detections tracked only`);
  if (s.dropped_frames) parts.push(`${fmtInt(s.dropped_frames)} frames dropped`);
  if (s.state === 'reconnecting' && s.reason) parts.push(s.reason);
  return parts.join(' · ');
}

function row(s) {
  const running = RUNNING.has(s.state);
  const act = (what, path, method) => async () => {
    try {
      await api(path, { method });
    } catch (err) {
      $('#live-message').textContent = `Could not ${what} ${s.name}: ${err.message}`;
    }
    loadLive();
  };
  const source = `/api/live/${encodeURIComponent(s.id)}`;
  return h('li', { class: 'live-source', dataset: { id: s.id, state: s.state } },
    h('span', { class: 'live-name', title: s.url }, s.name),
    ' ', h('span', { class: `badge ${s.state}` }, s.state),
    h('span', { class: 'live-figures muted small' }, figures(s)),
    h('span', { class: 'live-actions' },
      h('button', { type: 'button', class: 'button small', onclick: () => openVideo(s.id, { autoplay: true }) }, 'Watch'),
      running
        ? h('button', { type: 'button', class: 'button small danger', onclick: act('stop', source, 'DELETE') }, 'Stop')
        : h('button', { type: 'button', class: 'button small', onclick: act('start', `${source}/start`, 'POST') }, 'Start')));
}
