// The class and confidence filters, which the list, the timeline, the chart and a new rendering
// all follow; the filter values themselves live in state.js.

import { classColor } from './classes.js';
import { drawClassChart } from './charts.js';
import { updateDetections } from './detections.js';
import { $, fmtInt, h } from './dom.js';
import { startRender } from './renders.js';
import { detections, filters, knownClasses, player } from './state.js';
import { drawTimeline } from './timeline.js';

/** Draws what shows class colours again, once a class id (so its colour) has been learned. */
export function recolour() {
  fillClassFilter(true);
  drawTimeline();
  drawClassChart();
  detections.rendered = '';
}

export function fillClassFilter(force = false) {
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

export function setupFilters() {
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
