// Zones and lines on the player: the video's rules drawn over the picture, new ones drawn on the
// paused picture and saved (the server counts them from its stored tracks, without detecting
// again), what they counted, their events as a list that seeks when clicked, and as ticks under
// the timeline.

import { api } from './api.js';
import { $, fmtTime, h, svg } from './dom.js';
import { seek, videoEl } from './player.js';
import { player } from './state.js';

const EVENTS_SHOWN = 500;
const zones = { rules: null, drawing: null, points: [], session: -1 };

const overlay = () => $('#rules-overlay');

/** Where the picture is inside the video element (letterboxed when the element is wider or taller). */
function pictureRect() {
  const box = videoEl.getBoundingClientRect();
  const v = player.video;
  const ratio = v && v.width > 0 && v.height > 0 ? v.width / v.height : box.width / Math.max(1, box.height);
  let w = box.width;
  let hgt = w / ratio;
  if (hgt > box.height) {
    hgt = box.height;
    w = hgt * ratio;
  }
  return { left: (box.width - w) / 2, top: (box.height - hgt) / 2, width: w, height: hgt, box };
}

const clamp01 = (v) => Math.max(0, Math.min(1, v));

function toPicture(ev) {
  const r = pictureRect();
  return {
    x: Number(clamp01((ev.clientX - r.box.left - r.left) / r.width).toFixed(4)),
    y: Number(clamp01((ev.clientY - r.box.top - r.top) / r.height).toFixed(4)),
  };
}

function drawOverlay() {
  const el = overlay();
  const r = pictureRect();
  // No picture to draw on yet (an element without size, a video whose size is not known).
  if (!(r.width > 0 && r.height > 0)) {
    el.replaceChildren();
    return;
  }
  el.setAttribute('viewBox', `0 0 ${r.box.width} ${r.box.height}`);
  const at = (p) => `${(r.left + p.x * r.width).toFixed(1)},${(r.top + p.y * r.height).toFixed(1)}`;
  const shapes = [];
  const rules = zones.rules || { lines: [], zones: [] };
  for (const l of rules.lines) {
    shapes.push(svg('polyline', { points: `${at(l.from)} ${at(l.to)}`, class: 'rule-shape' }));
  }
  for (const z of rules.zones) {
    shapes.push(svg('polygon', { points: z.polygon.map(at).join(' '), class: 'rule-shape' }));
  }
  if (zones.points.length) {
    const pts = zones.points.map(at).join(' ');
    shapes.push(svg('polyline', { points: pts, class: 'rule-shape drafting' }));
    for (const p of zones.points) {
      const [x, y] = at(p).split(',');
      shapes.push(svg('circle', { cx: x, cy: y, r: 4, class: 'rule-point' }));
    }
  }
  el.replaceChildren(...shapes);
}

function setDrawing(kind) {
  zones.drawing = kind;
  zones.points = [];
  overlay().classList.toggle('drawing', Boolean(kind));
  $('#draw-finish').hidden = kind !== 'zone';
  $('#draw-cancel').hidden = !kind;
  $('#draw-line').disabled = Boolean(kind);
  $('#draw-zone').disabled = Boolean(kind);
  const say = {
    line: 'Click the line’s two ends on the picture. Crossing it from its left to its right (seen from its first end) counts as “in”.',
    zone: 'Click the zone’s corners on the picture, then Finish zone.',
  };
  $('#rules-status').textContent = kind ? say[kind] : '';
  drawOverlay();
}

function nextName(kind) {
  const typed = $('#rule-name').value.trim();
  if (typed) return typed;
  const taken = new Set([...(zones.rules?.lines || []), ...(zones.rules?.zones || [])].map((r) => r.name));
  for (let i = 1; ; i++) {
    const name = `${kind} ${i}`;
    if (!taken.has(name)) return name;
  }
}

/** Saves the rules with the one just drawn; the server answers with them evaluated. */
async function save(kind, points) {
  const v = player.video;
  if (!v) return;
  const current = zones.rules || { lines: [], zones: [] };
  const name = nextName(kind);
  const body = {
    lines: current.lines,
    zones: current.zones,
    hysteresis_frames: current.hysteresis_frames,
  };
  if (kind === 'line') body.lines = [...current.lines, { name, from: points[0], to: points[1] }];
  else body.zones = [...current.zones, { name, polygon: points }];
  $('#rules-status').textContent = `Saving “${name}”…`;
  const session = player.session;
  try {
    const { body: rules } = await api(`/api/videos/${encodeURIComponent(v.id)}/rules`, { method: 'PUT', json: body });
    if (session !== player.session) return;
    zones.rules = rules;
    $('#rule-name').value = '';
    $('#rules-status').textContent = rules.analysed_at
      ? `Saved “${name}”: counted from the stored tracks in ${rules.took_ms} ms.`
      : `Saved “${name}”: it is counted when the video’s job ends.`;
    drawOverlay();
    await loadCounts(session);
  } catch (e) {
    if (session === player.session) $('#rules-status').textContent = `Not saved: ${e.message}`;
  }
}

function onOverlayClick(ev) {
  if (!zones.drawing) return;
  ev.preventDefault();
  zones.points.push(toPicture(ev));
  drawOverlay();
  if (zones.drawing === 'line' && zones.points.length === 2) {
    const points = zones.points;
    setDrawing(null);
    save('line', points);
  }
}

function finishZone() {
  if (zones.points.length < 3) {
    $('#rules-status').textContent = 'A zone needs at least three corners.';
    return;
  }
  const points = zones.points;
  setDrawing(null);
  save('zone', points);
}

function countsText(c) {
  const lines = c.lines.map((l) => {
    const by = new Map();
    for (const t of l.totals) by.set(t.direction, (by.get(t.direction) || 0) + t.count);
    const rule = zones.rules.lines.find((r) => r.name === l.rule) || {};
    const dirs = [rule.positive || 'in', rule.negative || 'out'].map((d) => `${d} ${by.get(d) || 0}`).join(' · ');
    return `${l.rule}: ${dirs}`;
  });
  const zs = c.zones.map((z) => {
    const dwell = z.mean_dwell === undefined ? '' : ` · mean stay ${z.mean_dwell.toFixed(1)} s`;
    return `${z.rule}: ${z.entries} entered · ${z.exits} left${dwell}`;
  });
  return [...lines, ...zs];
}

function eventText(e) {
  if (e.kind === 'line_crossed') return `${e.rule}: ${e.class} #${e.track_id} ${e.direction}`;
  if (e.kind === 'zone_entered') return `${e.rule}: ${e.class} #${e.track_id} entered`;
  if (e.kind === 'zone_left') return `${e.rule}: ${e.class} #${e.track_id} left after ${e.dwell.toFixed(1)} s`;
  return `${e.rule}: ${e.class} #${e.track_id} stayed ${e.dwell.toFixed(1)} s`;
}

async function loadCounts(session) {
  const v = player.video;
  if (!v || !zones.rules || !zones.rules.analysed_at) {
    $('#rule-counts').replaceChildren();
    $('#rule-event-rows').replaceChildren();
    $('#rule-ticks').replaceChildren();
    return;
  }
  const id = encodeURIComponent(v.id);
  try {
    const [{ body: counts }, { body: page }] = await Promise.all([
      api(`/api/videos/${id}/analytics/counts`),
      api(`/api/videos/${id}/analytics/events?limit=${EVENTS_SHOWN}`),
    ]);
    if (session !== player.session) return;
    $('#rule-counts').replaceChildren(...countsText(counts).map((t) => h('li', {}, t)));
    const rows = page.items.map((e) =>
      h('tr', { 'data-time': e.time, tabindex: 0, onclick: () => seek(e.time), onkeydown: (k) => k.key === 'Enter' && seek(e.time) },
        h('td', {}, fmtTime(e.time, true)), h('td', {}, eventText(e))));
    $('#rule-event-rows').replaceChildren(...rows);
    const dur = Math.max(0.001, v.duration_ms / 1000);
    $('#rule-ticks').replaceChildren(...page.items.map((e) =>
      h('span', { class: `tick ${e.kind}`, style: `left:${((e.time / dur) * 100).toFixed(2)}%`, title: `${fmtTime(e.time)} ${eventText(e)}` })));
  } catch (e) {
    if (session === player.session) $('#rules-status').textContent = `Counts could not be read: ${e.message}`;
  }
}

/** The open video's rules and counts (again, when its job has ended). */
export async function loadRules(session, attempt = 0) {
  const v = player.video;
  if (!v) return;
  if (zones.session !== session) {
    zones.session = session;
    zones.rules = null;
    setDrawing(null);
  }
  try {
    const { body } = await api(`/api/videos/${encodeURIComponent(v.id)}/rules`);
    if (session !== player.session) return;
    zones.rules = body;
    drawOverlay();
    // The counts follow the job's end by a moment: look again until they are there.
    const rules = body.lines.length + body.zones.length;
    if (rules && !body.analysed_at && attempt < 30) setTimeout(() => loadRules(session, attempt + 1), 1000);
    await loadCounts(session);
  } catch (e) {
    if (session === player.session) $('#rules-status').textContent = `Rules could not be read: ${e.message}`;
  }
}

export function setupZones() {
  $('#draw-line').addEventListener('click', () => {
    videoEl.pause();
    setDrawing('line');
  });
  $('#draw-zone').addEventListener('click', () => {
    videoEl.pause();
    setDrawing('zone');
  });
  $('#draw-finish').addEventListener('click', finishZone);
  $('#draw-cancel').addEventListener('click', () => setDrawing(null));
  overlay().addEventListener('click', onOverlayClick);
  window.addEventListener('resize', drawOverlay);
  videoEl.addEventListener('loadedmetadata', drawOverlay);
}
