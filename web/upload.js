// Uploads, with their upload and processing progress followed until the job ends, so a rejected
// file or a failed job is explained where it was dropped.

import { errorFrom } from './api.js';
import { $, fmtInt, h, pct } from './dom.js';
import { follow } from './events.js';
import { libraryUpdate, loadLibrary } from './library.js';
import { openVideo } from './viewer.js';

const uploadsEl = $('#uploads');

function uploadOptions() {
  const out = {};
  const conf = $('#opt-confidence').value.trim();
  const classes = $('#opt-classes').value.trim();
  const every = $('#opt-every').value.trim();
  if (conf !== '') out.confidence = conf;
  if (classes !== '') out.classes = classes;
  if (every !== '') out.every = every;
  return out;
}

function upload(file) {
  const upBar = h('progress', { max: 1, value: 0, class: 'bar', 'aria-label': `Upload of ${file.name}` });
  const procBar = h('progress', { max: 1, value: 0, class: 'bar', 'aria-label': `Processing of ${file.name}`, hidden: true });
  const text = h('p', { class: 'upload-text' }, 'Uploading…');
  const actions = h('div', { class: 'upload-actions' });
  const item = h('li', { class: 'upload', dataset: { phase: 'uploading' } },
    h('div', { class: 'upload-name' }, file.name, h('span', { class: 'muted small' }, ` · ${(file.size / 1048576).toFixed(1)} MiB`)),
    h('div', { class: 'bars' }, h('span', { class: 'bar-label' }, 'Upload'), upBar),
    h('div', { class: 'bars proc' }, h('span', { class: 'bar-label' }, 'Processing'), procBar),
    text, actions);
  item.querySelector('.proc').hidden = true;
  uploadsEl.prepend(item);

  const setPhase = (phase) => {
    item.dataset.phase = phase;
  };
  const fail = (message) => {
    setPhase('rejected');
    item.classList.add('error');
    text.textContent = '';
    text.append(h('strong', {}, 'Not accepted: '), message);
    text.setAttribute('role', 'alert');
    actions.append(h('button', { type: 'button', class: 'button small', onclick: () => item.remove() }, 'Dismiss'));
  };

  const form = new FormData();
  form.append('file', file, file.name);
  for (const [k, v] of Object.entries(uploadOptions())) form.append(k, v);

  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/videos');
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable && e.total > 0) {
      upBar.value = e.loaded / e.total;
      text.textContent = `Uploading… ${pct(e.loaded / e.total)}`;
    }
  };
  xhr.upload.onload = () => {
    upBar.value = 1;
    text.textContent = 'Uploaded; checking the file…';
  };
  xhr.onerror = () => fail('the upload failed: the server could not be reached.');
  xhr.onabort = () => fail('the upload was cancelled.');
  xhr.onload = () => {
    if (xhr.status !== 202) {
      const err = errorFrom(xhr.status, xhr.responseText);
      const why = {
        413: 'The file is too large. ',
        415: 'This is not a video the server can decode. ',
        422: 'The file has no video stream. ',
        503: 'The server is busy; try again later. ',
      }[xhr.status] || '';
      fail(`${why}${err.message} (HTTP ${xhr.status})`);
      return;
    }
    let accepted;
    try {
      accepted = JSON.parse(xhr.responseText);
    } catch {
      fail('the server sent an unreadable answer.');
      return;
    }
    const id = accepted.id;
    upBar.value = 1;
    setPhase('processing');
    item.dataset.id = id;
    item.querySelector('.proc').hidden = false;
    procBar.hidden = false;
    text.textContent = 'Queued for processing…';
    actions.append(h('button', { type: 'button', class: 'button small', onclick: () => openVideo(id, { autoplay: true }) }, 'Open in player'));
    follow(id, (ev) => {
      if (ev.status === 'deleted') {
        setPhase('deleted');
        text.textContent = 'Deleted.';
        return;
      }
      procBar.value = ev.progress || 0;
      if (ev.status === 'queued') text.textContent = 'Queued for processing…';
      else if (ev.status === 'processing') text.textContent = `Processing… ${pct(ev.progress)} · ${fmtInt(ev.frames_done)} frames · ${fmtInt(ev.detections)} detections`;
      else if (ev.status === 'ready') {
        procBar.value = 1;
        setPhase('ready');
        text.textContent = `Ready · ${fmtInt(ev.detections)} detections`;
      } else {
        setPhase(ev.status);
        item.classList.add('error');
        text.textContent = `Processing ${ev.status}${ev.error ? `: ${ev.error}` : ''}`;
      }
      libraryUpdate(id, ev);
    });
    loadLibrary();
    openVideo(id, { autoplay: true });
  };
  xhr.send(form);
}

export function setupUpload() {
  const input = $('#file-input');
  const zone = $('#dropzone');
  input.addEventListener('change', () => {
    for (const f of input.files) upload(f);
    input.value = '';
  });
  const over = (on) => (e) => {
    e.preventDefault();
    zone.classList.toggle('over', on);
  };
  zone.addEventListener('dragenter', over(true));
  zone.addEventListener('dragover', over(true));
  zone.addEventListener('dragleave', over(false));
  zone.addEventListener('drop', (e) => {
    over(false)(e);
    for (const f of e.dataTransfer.files) upload(f);
  });
  // A file dropped next to the zone should not make the browser navigate away to it.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}
