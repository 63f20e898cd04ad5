/**
 * A dependency-free status page served at `/` until the Vite dashboard
 * (apps/web) lands: it polls /api/status and /api/samples and shows the run,
 * the latest losses against the equilibrium (D = ½, L_D = log 4), the workers,
 * and for 2-D datasets a scatter of G's samples.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>duel</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}
.k{color:#666}.row{display:flex;gap:3rem;flex-wrap:wrap}svg{border:1px solid #ccc;background:#fafafa}
</style></head><body>
<h1>duel <small id="state" class="k"></small></h1>
<p class="k">Minimal status page. The live dashboard with charts arrives with apps/web.</p>
<div class="row"><div><h2>Run</h2><table id="run"></table><h2>Latest</h2><table id="metrics"></table></div>
<div><h2>Samples from G</h2><svg id="scatter" width="360" height="360" viewBox="-1 -1 2 2"></svg></div></div>
<h2>Workers</h2><table id="workers"></table>
<script>
const $ = (id) => document.getElementById(id);
const rows = (o) => Object.entries(o).map(([k, v]) => '<tr><td class="k">' + k + '</td><td>' + (typeof v === 'number' ? +v.toFixed(4) : v) + '</td></tr>').join('');
async function tick() {
  const s = await (await fetch('api/status')).json();
  $('state').textContent = s.run.state + ' · step ' + s.run.step + ' / ' + s.run.steps;
  $('run').innerHTML = rows({ id: s.run.id, dataset: s.run.dataset, model: s.run.model, mode: s.run.mode, phase: s.run.phase, 'versions G/D': s.run.versions.g + ' / ' + s.run.versions.d });
  const m = s.metrics;
  $('metrics').innerHTML = rows({ 'D loss (eq. log 4 = 1.386)': m.dLoss ?? '-', 'G loss': m.gLoss ?? '-', 'D(x) (eq. 0.5)': m.dReal ?? '-', 'D(G(z)) (eq. 0.5)': m.dFake ?? '-', 'img/s': m.imgsPerSec, ...(s.quality ?? {}) });
  $('workers').innerHTML = '<tr><th>id</th><th>kind</th><th>backend</th><th>device</th><th>accepted</th><th>rejected</th><th>img/s</th><th>last seen</th></tr>' +
    s.workers.map((w) => '<tr><td>' + [w.id, w.kind, w.backend, w.device, w.accepted, w.rejected, w.imgsPerSec, new Date(w.lastSeen).toLocaleTimeString()].join('</td><td>') + '</td></tr>').join('');
  const p = await (await fetch('api/samples?n=500')).json();
  if (p.shape.length === 1 && p.shape[0] === 2) {
    const ext = Math.max(1.5, ...p.samples.map(([x, y]) => Math.max(Math.abs(x), Math.abs(y)))) * 1.1;
    $('scatter').setAttribute('viewBox', [-ext, -ext, 2 * ext, 2 * ext].join(' '));
    $('scatter').innerHTML = p.samples.map(([x, y]) => '<circle cx="' + x + '" cy="' + -y + '" r="' + ext / 150 + '" fill="#c33" fill-opacity="0.5"/>').join('');
  }
}
tick(); setInterval(() => tick().catch(() => {}), 1000);
</script></body></html>`;
