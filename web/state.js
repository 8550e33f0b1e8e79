// The mutable state the modules share. It imports none of the others, so the modules that read or
// change it need not import each other (and no two modules import each other in a circle).

export const TERMINAL = new Set(['ready', 'failed', 'interrupted']);

export const player = {
  session: 0, // bumped whenever another video is opened; stale async work checks it and stops
  video: null, // the Video record
  live: null, // the latest event: status, progress, frames_done, detections
  hls: null,
  source: 'original',
  renders: [],
  unfollow: null,
  stats: null,
  statsAt: 0,
  statsUpTo: 0, // seconds of video the stats covered when fetched
  statsTimer: null,
};

export const filters = {
  excluded: new Set(), // classes switched off; new classes appear switched on
  minConf: () => Number(document.querySelector('#min-confidence').value) || 0,
  /** The classes to ask for, or null for every class. */
  included() {
    if (this.excluded.size === 0) return null;
    return knownClasses().filter((c) => !this.excluded.has(c));
  },
  key() {
    const inc = this.included();
    return `${inc === null ? '*' : inc.join(',')}|${this.minConf()}`;
  },
  shows: (cls) => !filters.excluded.has(cls),
};

export function knownClasses() {
  return player.stats ? player.stats.classes.map((c) => c.class) : [];
}

// Detections around the playhead (detections.js): cached spans and what the list shows.
export const detections = {
  cache: new Map(), // key -> {rows, complete, at} | {pending: Promise}
  dense: new Set(), // `filter|window` found denser than the stats said
  rendered: '',
  current: null,
};
