// Class colours, so the page's swatches match the boxes the server burns into the video.

// The server's box colours (actors/src/render/colour.rs), indexed by class id.
const PALETTE = ['#e62828', '#ff8c00', '#ffdc00', '#a0e61e', '#28b43c', '#3ce6aa', '#00c8e6', '#3c8cff', '#1e32c8', '#8c3ce6',
  '#e632d2', '#ff78aa', '#800020', '#965a1e', '#787800', '#006428', '#007878', '#00286e', '#5a0078', '#962864', '#d2b482',
  '#beaaff', '#fa9678'];

/**
 * A class's colour: the one the server draws its boxes in, by class id. Ids come with the stats
 * (when they carry `class_id`) or with detection rows, and are remembered per model; a class
 * whose id is not known yet gets a stand-in colour until it is.
 */
const classIds = new Map(); // class name -> class id
let classIdsKey = '';
export function classColor(name) {
  const id = classIds.get(name);
  if (id !== undefined) return PALETTE[id % PALETTE.length];
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

export function loadClassIds(model) {
  classIdsKey = `sightline.classIds.${model}`;
  classIds.clear();
  try {
    for (const [k, v] of Object.entries(JSON.parse(localStorage.getItem(classIdsKey) || '{}'))) classIds.set(k, v);
  } catch {
    /* storage unavailable or spoilt: learn again */
  }
}

/** Learns class ids from stats classes or detection rows; true when one was new. */
export function learnClassIds(items, field) {
  let learned = false;
  for (const d of items) {
    const id = d[field];
    if (Number.isInteger(id) && classIds.get(d.class) !== id) {
      classIds.set(d.class, id);
      learned = true;
    }
  }
  if (learned && classIdsKey) {
    try {
      localStorage.setItem(classIdsKey, JSON.stringify(Object.fromEntries(classIds)));
    } catch {
      /* not persisted: fine */
    }
  }
  return learned;
}
