import { GanModel, latentBatch, tf, type GanSpec } from '@duel/gan';
import { GRID25_CENTRES, GRID25_SIGMA, RING8_CENTRES, RING8_SIGMA } from '@duel/datasets';
import { decodeFrame, type WeightsFrame } from '@duel/protocol';
import type { ModelInfo } from '@duel/api-types';

/** Scatter size: enough to see mode coverage, small enough for the cpu backend in a page. */
const SCATTER_N = 1500;
const GRID = 8;
const STRIP = 10;
/** The samples use fixed z, so successive renders show how the same latent points move. */
const Z_SEED = 7;

/**
 * Renders G's samples in the page, from G's live weights (GET /api/weights/G,
 * a msgpack `weights` frame) with tfjs: a scatter over the real centres with
 * their HQ circles (3σ, SYSTEM.md) for 2-D datasets, an 8×8 grid for images,
 * and a latent interpolation strip (slerp between two fixed z).
 */
export class SamplesView {
  private model: GanModel | null = null;
  private info: ModelInfo | null = null;
  private version = -1;
  private busy = false;
  /** Renders so far (tests read it as data-renders). */
  renders = 0;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly strip: HTMLCanvasElement,
    private readonly caption: HTMLElement,
  ) {}

  /** Re-renders when G's version moved; at most one render at a time. */
  async update(runId: string, gVersion: number): Promise<void> {
    if (this.busy || gVersion === this.version) return;
    this.busy = true;
    try {
      if (!this.info || this.info.run !== runId) await this.load();
      const res = await fetch('/api/weights/G', { cache: 'no-store' });
      if (!res.ok) throw new Error(`GET /api/weights/G: HTTP ${res.status}`);
      const frame = decodeFrame(new Uint8Array(await res.arrayBuffer()), { from: 'coordinator' }) as WeightsFrame;
      this.model!.setWeights('G', frame.tensors);
      this.version = frame.version;
      if (this.info!.dataShape.length === 1 && this.info!.dataShape[0] === 2) await this.render2d();
      else await this.renderImages();
      this.renders++;
      this.canvas.dataset['renders'] = String(this.renders);
      this.caption.textContent = `G version ${frame.version}, rendered here with tfjs (${tf.getBackend()})`;
    } finally {
      this.busy = false;
    }
  }

  private async load(): Promise<void> {
    const res = await fetch('/api/model');
    if (!res.ok) throw new Error(`GET /api/model: HTTP ${res.status}`);
    this.info = (await res.json()) as ModelInfo;
    this.model?.dispose();
    this.model = new GanModel(this.info.spec as unknown as GanSpec);
    this.version = -1;
  }

  private async render2d(): Promise<void> {
    const pts = await this.model!.sample(SCATTER_N, Z_SEED);
    const { centres, sigma } = mixtureOf(this.info!.dataset);
    const ctx = this.canvas.getContext('2d')!;
    const { width: w, height: h } = this.canvas;
    let ext = 1.5;
    for (const [x, y] of centres) ext = Math.max(ext, Math.abs(x) * 1.25, Math.abs(y) * 1.25);
    const sx = (x: number) => ((x + ext) / (2 * ext)) * w;
    const sy = (y: number) => h - ((y + ext) / (2 * ext)) * h;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    // Real centres with the high-quality radius 3σ (drawn at least 3 px wide to stay visible).
    ctx.strokeStyle = '#1e8449';
    for (const [x, y] of centres) {
      ctx.beginPath();
      ctx.arc(sx(x), sy(y), Math.max(3, (3 * sigma * w) / (2 * ext)), 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.fillStyle = 'rgba(192, 57, 43, 0.45)';
    for (let i = 0; i < SCATTER_N; i++) ctx.fillRect(sx(pts[2 * i]) - 1, sy(pts[2 * i + 1]) - 1, 2, 2);
    // The interpolation path over the scatter, and the same points in the strip.
    const path = await this.interpolate();
    ctx.strokeStyle = '#d68910';
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (let i = 0; i < STRIP; i++) ctx[i ? 'lineTo' : 'moveTo'](sx(path[2 * i]), sy(path[2 * i + 1]));
    ctx.stroke();
    ctx.lineWidth = 1;
    const s = this.strip.getContext('2d')!;
    const cw = this.strip.width / STRIP;
    s.fillStyle = '#fff';
    s.fillRect(0, 0, this.strip.width, this.strip.height);
    for (let i = 0; i < STRIP; i++) {
      const cx = (x: number) => i * cw + ((x + ext) / (2 * ext)) * cw;
      const cy = (y: number) => this.strip.height - ((y + ext) / (2 * ext)) * this.strip.height;
      s.strokeStyle = '#ddd';
      s.strokeRect(i * cw + 0.5, 0.5, cw - 1, this.strip.height - 1);
      s.fillStyle = '#a9dfbf';
      for (const [x, y] of centres) s.fillRect(cx(x) - 1, cy(y) - 1, 2, 2);
      s.fillStyle = '#d68910';
      s.beginPath();
      s.arc(cx(path[2 * i]), cy(path[2 * i + 1]), 3, 0, 2 * Math.PI);
      s.fill();
    }
  }

  private async renderImages(): Promise<void> {
    const [hgt, wid] = this.info!.dataShape;
    const imgs = await this.model!.sample(GRID * GRID, Z_SEED);
    drawImages(this.canvas, imgs, GRID * GRID, GRID, hgt, wid);
    drawImages(this.strip, await this.interpolate(), STRIP, STRIP, hgt, wid);
  }

  /** G at STRIP points on the great circle between two fixed latent vectors (slerp suits Gaussian z; White 2016). */
  private async interpolate(): Promise<Float32Array> {
    const d = (this.info!.spec as unknown as GanSpec).latentDim;
    const z = latentBatch(2, d, Z_SEED + 1);
    const a = z.subarray(0, d);
    const b = z.subarray(d);
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < d; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))));
    const zs = new Float32Array(STRIP * d);
    for (let s = 0; s < STRIP; s++) {
      const t = s / (STRIP - 1);
      const [wa, wb] = omega < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
      for (let i = 0; i < d; i++) zs[s * d + i] = wa * a[i] + wb * b[i];
    }
    const out = tf.tidy(() => this.model!.generate(tf.tensor2d(zs, [STRIP, d])));
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  }
}

function mixtureOf(dataset: string): { centres: readonly (readonly [number, number])[]; sigma: number } {
  if (dataset === 'grid25') return { centres: GRID25_CENTRES, sigma: GRID25_SIGMA };
  return { centres: RING8_CENTRES, sigma: RING8_SIGMA };
}

/** Draws n grayscale images (values in [-1, 1], row-major h×w) in a grid of `cols` columns. */
function drawImages(canvas: HTMLCanvasElement, data: Float32Array, n: number, cols: number, h: number, w: number): void {
  const rows = Math.ceil(n / cols);
  const img = new ImageData(cols * w, rows * h);
  for (let k = 0; k < n; k++) {
    const ox = (k % cols) * w;
    const oy = Math.floor(k / cols) * h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = Math.round(((data[k * h * w + y * w + x] + 1) / 2) * 255);
        const o = ((oy + y) * cols * w + ox + x) * 4;
        img.data[o] = img.data[o + 1] = img.data[o + 2] = Math.max(0, Math.min(255, v));
        img.data[o + 3] = 255;
      }
    }
  }
  const tmp = document.createElement('canvas');
  tmp.width = img.width;
  tmp.height = img.height;
  tmp.getContext('2d')!.putImageData(img, 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const scale = Math.min(canvas.width / img.width, canvas.height / img.height);
  ctx.drawImage(tmp, 0, 0, img.width * scale, img.height * scale);
}
