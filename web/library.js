// The library of uploaded videos: listed a page at a time, refreshed while any is still being
// processed, each with play and delete.

import { api } from './api.js';
import { $, fmtInt, fmtTime, h, pct } from './dom.js';
import { closePlayer } from './player.js';
import { TERMINAL, player } from './state.js';
import { openVideo } from './viewer.js';

const library = { items: new Map(), next: null, timer: null };
const libraryEl = $('#library');

export async function loadLibrary(more = false) {
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
export function libraryUpdate(id, ev) {
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
