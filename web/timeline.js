// The timeline: activity over time from the pre-aggregated stats, what has been processed so far,
// and the playhead; clicking or keys on it seek.

import { classColor } from './classes.js';
import { $, fmtTime, h, svg } from './dom.js';
import { processedSeconds, seek, videoEl } from './player.js';
import { filters, player } from './state.js';

const timeline = { playhead: null, frontier: null };

export function drawTimeline() {
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

export function drawTimelineFrontier() {
  const v = player.video;
  if (!v || !timeline.frontier) return;
  const done = Math.min(1, processedSeconds() / Math.max(0.001, v.duration_ms / 1000));
  timeline.frontier.setAttribute('x', String(done * 1000));
  timeline.frontier.setAttribute('width', String((1 - done) * 1000));
}

export function drawPlayhead() {
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

export function setupTimeline() {
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
