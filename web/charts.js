// The class distribution chart, from the pre-aggregated stats (stats.js fetches them).

import { classColor } from './classes.js';
import { $, fmtInt, svg } from './dom.js';
import { filters, player } from './state.js';

export function drawClassChart() {
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
