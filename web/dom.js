// Building and formatting what the page shows, with no dependencies, so every module can use them.

const SVG_NS = 'http://www.w3.org/2000/svg';

export const $ = (sel) => document.querySelector(sel);

/** Creates an element: h('button', {class: 'x', onclick: f}, 'text', child…). */
export function h(tag, attrs = {}, ...children) {
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

export function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function fmtTime(s, tenths = false) {
  if (!Number.isFinite(s) || s < 0) s = 0;
  const m = Math.floor(s / 60);
  const sec = s - m * 60;
  const whole = Math.floor(sec);
  let out = `${m}:${String(whole).padStart(2, '0')}`;
  if (tenths) out += `.${Math.floor((sec - whole) * 10)}`;
  return out;
}

export const fmtInt = (n) => Number(n || 0).toLocaleString('en-US');
export const pct = (x) => `${Math.round(Math.max(0, Math.min(1, x || 0)) * 100)}%`;
