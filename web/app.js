// Sightline's web UI: upload, live sources, library, player (hls.js), detections synced to the playhead,
// timeline, filters, statistics, re-rendering, and zones and lines drawn on the picture. Plain ES modules, no framework.
//
// Data use is bounded: detections are only ever fetched for a small span around the playhead
// (a 10 s window when that span is sparse, one sampled frame per second when it is dense), a few
// spans are cached, and the timeline and charts come from the pre-aggregated stats endpoint.
//
// This entry only wires the modules together and starts; each module says what it is for. The
// class colours come from /ui/palette.js, which the server generates from its own palette.

import { drawClassChart } from './charts.js';
import { setupDetections } from './detections.js';
import { $ } from './dom.js';
import { recolour, setupFilters } from './filters.js';
import { loadLibrary } from './library.js';
import { setupLive } from './live.js';
import { setupTimeline } from './timeline.js';
import { setupUpload } from './upload.js';
import { openVideo, setupPlayer } from './viewer.js';
import { setupZones } from './zones.js';

function start() {
  setupUpload();
  setupPlayer();
  setupFilters();
  setupTimeline();
  setupDetections(recolour);
  setupZones();
  setupLive();
  $('#library-refresh').addEventListener('click', () => loadLibrary());
  $('#library-more').addEventListener('click', () => loadLibrary(true));
  let resize = null;
  window.addEventListener('resize', () => {
    clearTimeout(resize);
    resize = setTimeout(drawClassChart, 150);
  });
  loadLibrary();
  const m = /^#v=([^&]+)/.exec(location.hash);
  if (m) openVideo(decodeURIComponent(m[1]));
}

start();
