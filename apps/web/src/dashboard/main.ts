import '../style.css';
import { tf } from '@duel/gan';
import type { DashboardMessage, DashboardWorker } from '@duel/api-types';
import { DashboardCharts } from './charts';
import { wireControls } from './controls';
import { SamplesView } from './samples';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const charts = new DashboardCharts({ loss: $('chart-loss'), d: $('chart-d'), quality: $('chart-quality'), throughput: $('chart-throughput') });
const samples = new SamplesView($<HTMLCanvasElement>('samples'), $<HTMLCanvasElement>('interp'), $('samples-info'));
let disconnectedAt: number | null = null;
let lastRunId = '';
let last: DashboardMessage | null = null;

// Sampling a small G is cheap; the cpu backend always exists and never fights the volunteer page for a GPU.
void tf.setBackend('cpu');

function onMessage(msg: DashboardMessage): void {
  if (disconnectedAt !== null || (lastRunId && msg.run.id !== lastRunId)) {
    // Back after a gap (or a new run after a coordinator restart): break the lines where we lost it.
    charts.gap(disconnectedAt ?? msg.t);
    disconnectedAt = null;
    $('banner').hidden = true;
  }
  lastRunId = msg.run.id;
  last = msg;
  charts.addMetrics(msg.history);
  charts.addQuality(msg.qualityHistory);
  charts.redraw();
  document.body.dataset['chartPoints'] = String(charts.points);
  document.body.dataset['qualityPoints'] = String(charts.qualityPoints);
  renderRun(msg);
  renderWorkers(msg.workers, msg.t);
  samples.update(msg.run.id, msg.run.versions.g).catch((e: Error) => ($('samples-info').textContent = `samples: ${e.message}`));
}

function renderRun(msg: DashboardMessage): void {
  const r = msg.run;
  $('run-id').textContent = `${r.id} · ${r.dataset} · ${r.model} · ${r.mode}`;
  const badge = $('run-state');
  badge.textContent = r.state;
  badge.className = `badge ${r.state}`;
  $('step').textContent = String(r.step);
  $('steps').textContent = String(r.steps);
  $('run-settings').textContent = `k ${r.k} · ${r.strategy} · lr D ${r.lr.D.toExponential(1)} G ${r.lr.G.toExponential(1)}`;
  $('controls-note').textContent = r.controls
    ? "Need the coordinator's DUEL_ADMIN_TOKEN."
    : 'Controls are off: this coordinator was started without DUEL_ADMIN_TOKEN, so it refuses every control.';
  const k = $<HTMLInputElement>('k');
  if (!k.value) k.placeholder = String(r.k);
}

function renderWorkers(workers: DashboardWorker[], now: number): void {
  const body = $('workers').querySelector('tbody')!;
  body.replaceChildren(
    ...workers
      .filter((w) => w.connected || now - w.lastSeen < 60_000)
      .map((w) => {
        const tr = document.createElement('tr');
        tr.dataset['worker'] = w.id;
        tr.dataset['kind'] = w.kind;
        if (!w.connected) tr.className = 'muted';
        const cells = [w.id, w.kind === 'node' ? 'node (GPU/CPU)' : 'volunteer', w.backend, w.device, `${w.tasks} (${w.rejected} rejected)`, String(w.imgsPerSec), ago(now - w.lastSeen), String(w.staleness), String(w.credit)];
        tr.replaceChildren(...cells.map((c) => Object.assign(document.createElement('td'), { textContent: c })));
        return tr;
      }),
  );
}

function ago(ms: number): string {
  return ms < 1500 ? 'now' : `${Math.round(ms / 1000)} s ago`;
}

/** Live feed over Server-Sent Events: EventSource reconnects by itself (the coordinator asks for a 1 s retry). */
function connect(): void {
  const es = new EventSource('/api/events');
  const handle = (ev: MessageEvent<string>) => onMessage(JSON.parse(ev.data) as DashboardMessage);
  es.addEventListener('snapshot', handle);
  es.addEventListener('tick', handle);
  es.onerror = () => {
    if (disconnectedAt !== null) return;
    disconnectedAt = Date.now();
    const banner = $('banner');
    banner.textContent = `Disconnected from the coordinator since ${new Date(disconnectedAt).toLocaleTimeString()}; reconnecting…`;
    banner.hidden = false;
    $('run-state').textContent = 'disconnected';
  };
}

wireControls(document, () => last && renderRun(last));
connect();
