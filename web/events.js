// Server-sent events: one EventSource per video, shared by whoever follows it (an upload's progress,
// the player), and closed when the job has ended so the browser does not keep reconnecting.

import { api } from './api.js';
import { TERMINAL } from './state.js';

const follows = new Map(); // id -> {es, subs: Set, retry}

export function follow(id, cb) {
  let f = follows.get(id);
  if (!f) {
    f = { es: null, subs: new Set(), retry: null };
    follows.set(id, f);
    openEvents(id, f);
  }
  f.subs.add(cb);
  return () => {
    f.subs.delete(cb);
    if (f.subs.size === 0) closeFollow(id);
  };
}

function closeFollow(id) {
  const f = follows.get(id);
  if (!f) return;
  if (f.es) f.es.close();
  clearTimeout(f.retry);
  follows.delete(id);
}

function deliver(id, ev) {
  const f = follows.get(id);
  if (!f) return;
  for (const cb of [...f.subs]) cb(ev);
  if (TERMINAL.has(ev.status) || ev.status === 'deleted') closeFollow(id);
}

function openEvents(id, f) {
  const es = new EventSource(`/api/videos/${encodeURIComponent(id)}/events`);
  f.es = es;
  es.onmessage = (m) => {
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return;
    }
    deliver(id, ev);
  };
  es.onerror = () => {
    // The stream ends when the job ends (or the server went away): do not let EventSource
    // reconnect on its own; ask once what became of the video, and follow again if need be.
    es.close();
    if (follows.get(id) !== f) return;
    clearTimeout(f.retry);
    f.retry = setTimeout(async () => {
      if (follows.get(id) !== f) return;
      try {
        const { body } = await api(`/api/videos/${encodeURIComponent(id)}`);
        const ev = { kind: 'status', status: body.status, progress: body.progress, frames_done: body.frames_done, detections: body.detections, playable_segments: 0, error: body.error };
        deliver(id, ev);
        if (!TERMINAL.has(body.status) && follows.get(id) === f) openEvents(id, f);
      } catch (e) {
        if (e.status === 404) deliver(id, { kind: 'status', status: 'deleted' });
        else if (follows.get(id) === f) f.retry = setTimeout(() => openEvents(id, f), 3000);
      }
    }, 1000);
  };
}
