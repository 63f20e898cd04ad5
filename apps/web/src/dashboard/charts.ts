import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { HistoryPoint, QualityPoint } from '@duel/api-types';

/** At equilibrium D = p_data / (p_data + p_g) = ½, so L_D = 2·log 2 = log 4 (Goodfellow et al. 2014, Thm. 1). */
export const LOG4 = Math.log(4);
/** Points kept per chart; older ones drop off the left. */
const MAX_POINTS = 3000;

type Row = (number | null)[];

/** One uPlot time chart whose series are filled from (t, values) points; a null row draws a gap. */
class TimeChart {
  readonly plot: uPlot;
  private readonly data: Row[];

  constructor(el: HTMLElement, series: { label: string; stroke: string; dash?: number[] }[]) {
    this.data = [[], ...series.map(() => [])];
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth || 420),
      height: 200,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, dash: s.dash, spanGaps: false, points: { show: false } }))],
      axes: [{}, { size: 50 }],
      scales: { x: { time: true } },
      legend: { live: true },
    };
    this.plot = new uPlot(opts, this.data as uPlot.AlignedData, el);
  }

  get length(): number {
    return this.data[0].length;
  }

  push(tMs: number, values: (number | null)[]): void {
    const xs = this.data[0];
    if (xs.length && tMs / 1000 <= (xs[xs.length - 1] as number)) return; // already shown (a reconnect re-sends history)
    xs.push(tMs / 1000);
    values.forEach((v, i) => this.data[i + 1].push(v === null || !Number.isFinite(v) ? null : v));
    if (xs.length > MAX_POINTS) for (const row of this.data) row.splice(0, xs.length - MAX_POINTS);
  }

  /** A break in the line at tMs (the coordinator was unreachable). */
  gap(tMs: number): void {
    this.push(tMs, this.data.slice(1).map(() => null));
  }

  redraw(): void {
    this.plot.setData(this.data as uPlot.AlignedData);
  }
}

/** The dashboard's four charts. */
export class DashboardCharts {
  private readonly loss: TimeChart;
  private readonly d: TimeChart;
  private readonly quality: TimeChart;
  private readonly throughput: TimeChart;

  constructor(root: { loss: HTMLElement; d: HTMLElement; quality: HTMLElement; throughput: HTMLElement }) {
    this.loss = new TimeChart(root.loss, [
      { label: 'D loss', stroke: '#c0392b' },
      { label: 'G loss', stroke: '#2471a3' },
      { label: 'log 4', stroke: '#999', dash: [6, 4] },
    ]);
    this.d = new TimeChart(root.d, [
      { label: 'D(x)', stroke: '#c0392b' },
      { label: 'D(G(z))', stroke: '#2471a3' },
      { label: '½', stroke: '#999', dash: [6, 4] },
    ]);
    this.quality = new TimeChart(root.quality, [
      { label: 'modes', stroke: '#117a65' },
      { label: 'hq', stroke: '#b9770e' },
      { label: 'reverse KL', stroke: '#7d3c98' },
    ]);
    this.throughput = new TimeChart(root.throughput, [{ label: 'img/s', stroke: '#1f618d' }]);
  }

  /** Points drawn in the loss chart (tests read it through data-points). */
  get points(): number {
    return this.loss.length;
  }

  /** Points in the quality chart. */
  get qualityPoints(): number {
    return this.quality.length;
  }

  addMetrics(points: HistoryPoint[]): void {
    for (const p of points) {
      this.loss.push(p.t, [p.dLoss, p.gLoss, LOG4]);
      this.d.push(p.t, [p.dReal, p.dFake, 0.5]);
      this.throughput.push(p.t, [p.imgsPerSec]);
    }
  }

  addQuality(points: QualityPoint[]): void {
    // Image runs have no 2-D metrics: their points draw as gaps.
    for (const q of points) this.quality.push(q.t, q.kind === '2d' ? [q.modes, q.hq, q.reverseKL] : [null, null, null]);
  }

  gap(tMs: number): void {
    for (const c of [this.loss, this.d, this.quality, this.throughput]) c.gap(tMs);
  }

  redraw(): void {
    for (const c of [this.loss, this.d, this.quality, this.throughput]) c.redraw();
  }
}
