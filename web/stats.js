// Fetching the pre-aggregated stats (so the timeline and charts never need the detections
// themselves) and redrawing what is drawn from them.

import { api } from './api.js';
import { drawClassChart } from './charts.js';
import { learnClassIds } from './classes.js';
import { updateDetections } from './detections.js';
import { $, fmtInt } from './dom.js';
import { fillClassFilter } from './filters.js';
import { processedSeconds } from './player.js';
import { player } from './state.js';
import { drawTimeline } from './timeline.js';

const TIMELINE_BINS = 150; // at most this many histogram bins, whatever the duration

export async function loadStats() {
  const v = player.video;
  if (!v) return;
  const session = player.session;
  player.statsAt = performance.now();
  const dur = v.duration_ms / 1000;
  const bin = Math.max(1, Math.ceil(dur / TIMELINE_BINS));
  const upTo = processedSeconds();
  try {
    const { body } = await api(`/api/videos/${encodeURIComponent(v.id)}/stats?bin=${bin}`);
    if (session !== player.session) return;
    player.stats = body;
    player.statsUpTo = upTo;
  } catch {
    return;
  }
  learnClassIds(player.stats.classes, 'class_id');
  fillClassFilter();
  drawTimeline();
  drawClassChart();
  const s = player.stats;
  const tracks = s.classes.reduce((a, c) => a + c.unique_tracks, 0);
  $('#stats-summary').textContent = `${fmtInt(s.total_detections)} detections in ${fmtInt(s.frames_with_detections)} frames` +
    (tracks ? ` · ${fmtInt(tracks)} tracks` : '') + ` · ${s.classes.length} classes`;
  updateDetections();
}
