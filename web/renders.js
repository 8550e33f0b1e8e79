// Renditions: the original, and renderings made from the stored detections, so a filtered view
// can be watched with only the chosen classes burnt in.

import { api } from './api.js';
import { $, h, sleep } from './dom.js';
import { attach, playerEl, videoEl } from './player.js';
import { TERMINAL, filters, player } from './state.js';

export async function loadRenders(session) {
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

export function switchSource(value) {
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

export async function startRender() {
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
