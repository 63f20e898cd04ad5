import '../style.css';
import type { VolunteerStatus } from '@duel/worker-core';
import type { FromWorker, ToWorker } from './messages';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
let worker: Worker | null = null;
let workerId: string | null = null;
/** True while the page (not the user) paused the worker because the tab is hidden. */
let hiddenPause = false;
let creditTimer: ReturnType<typeof setInterval> | null = null;

const contribute = $<HTMLButtonElement>('contribute');
const stop = $<HTMLButtonElement>('stop');
const share = $<HTMLInputElement>('share');
const keepGoing = $<HTMLInputElement>('keep-going');
keepGoing.checked = params.get('keepGoing') === '1';
/** `?microBatch=N`: the most samples run through the nets at once (checked against the run's pack at the welcome). */
const microBatch = params.has('microBatch') ? Number(params.get('microBatch')) : undefined;
$('v-micro').textContent = microBatch === undefined ? 'whole batches' : String(microBatch);

function send(m: ToWorker): void {
  worker?.postMessage(m);
}

contribute.addEventListener('click', () => {
  if (worker) return;
  worker = new Worker(new URL('./volunteer.worker.ts', import.meta.url), { type: 'module', name: 'duel-volunteer' });
  worker.onmessage = (ev: MessageEvent<FromWorker>) => onWorker(ev.data);
  worker.onerror = (ev) => ($('v-note').textContent = `worker error: ${ev.message}`);
  send({ type: 'start', origin: location.origin, backend: params.get('backend') ?? 'auto', share: Number(share.value) / 100, invite: params.get('invite') ?? undefined, microBatch });
  contribute.disabled = true;
  stop.disabled = false;
  $('v-state').textContent = 'choosing a backend…';
  creditTimer = setInterval(() => void refreshCredit(), 2000);
});

stop.addEventListener('click', () => {
  stop.disabled = true;
  $('v-state').textContent = 'stopping…';
  send({ type: 'stop' });
});

share.addEventListener('input', () => {
  $('share-value').textContent = `${share.value}%`;
  send({ type: 'share', share: Number(share.value) / 100 });
});

// A hidden tab stops contributing (finishing its task and saying bye) unless the volunteer opted to keep going.
document.addEventListener('visibilitychange', () => {
  if (!worker) return;
  if (document.hidden && !keepGoing.checked) {
    hiddenPause = true;
    send({ type: 'pause' });
  } else if (!document.hidden && hiddenPause) {
    hiddenPause = false;
    send({ type: 'resume' });
  }
});

function onWorker(m: FromWorker): void {
  switch (m.type) {
    case 'backend':
      $('v-backend').textContent = m.name;
      $('v-device').textContent = m.device;
      $('v-note').textContent = m.reason;
      return;
    case 'status':
      return showStatus(m.status);
    case 'error':
      $('v-state').textContent = 'failed';
      $('v-note').textContent = m.message;
      return;
    case 'log':
      if (m.event === 'micro-batch-ignored') $('v-micro').textContent = `${microBatch}, ignored: ${String(m.fields['reason'])}`;
      if (m.level === 'warn' || m.level === 'error') console.warn('[volunteer]', m.event, m.fields);
      return;
    case 'stopped':
      worker?.terminate();
      worker = null;
      if (creditTimer) clearInterval(creditTimer);
      $('v-state').textContent = 'stopped';
      contribute.disabled = false;
      return;
  }
}

function showStatus(s: VolunteerStatus): void {
  workerId = s.workerId;
  $('v-state').textContent = s.state;
  $('v-worker').textContent = s.workerId ?? '-';
  $('v-tasks').textContent = String(s.counters.tasksDone);
  $('v-samples').textContent = String(s.counters.samples);
  $('v-accepted').textContent = String(s.counters.accepted);
  $('v-rejected').textContent = String(s.counters.rejected);
  $('v-rate').textContent = String(s.imgsPerSec);
  if (s.note) $('v-note').textContent = s.note;
}

/** The coordinator's view of this volunteer: the credit it earned (samples of applied results). */
async function refreshCredit(): Promise<void> {
  if (!workerId) return;
  try {
    const status = (await (await fetch('/api/status')).json()) as { workers: { id: string; samples?: number; credit?: number }[] };
    const me = status.workers.find((w) => w.id === workerId);
    if (me) $('v-credit').textContent = String(me.credit ?? me.samples ?? 0);
  } catch {
    // The coordinator is away; the worker is reconnecting and the page keeps the last figure.
  }
}
