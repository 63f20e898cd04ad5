import type { ApiError } from '@duel/api-types';

/**
 * Run controls: POST /api/control with the admin token as a bearer. The
 * coordinator refuses them without it (401, or 403 when it has no admin
 * token at all); the page shows the refusal's code as it came.
 */
export function wireControls(doc: Document, onDone: () => void): void {
  const $ = <T extends HTMLElement>(id: string) => doc.getElementById(id) as T;
  const token = $<HTMLInputElement>('admin-token');
  const result = $('control-result');
  token.value = sessionStorage.getItem('duel-admin-token') ?? '';

  async function send(body: Record<string, unknown>): Promise<void> {
    sessionStorage.setItem('duel-admin-token', token.value);
    result.textContent = '…';
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (token.value) headers['Authorization'] = `Bearer ${token.value}`;
    try {
      const res = await fetch('/api/control', { method: 'POST', headers, body: JSON.stringify(body) });
      const json = (await res.json().catch(() => ({}))) as Partial<ApiError> & { ok?: boolean };
      result.dataset['status'] = String(res.status);
      result.dataset['code'] = json.code ?? '';
      result.textContent = res.ok ? `ok: ${JSON.stringify(body)}` : `refused (${res.status} ${json.code ?? ''}): ${json.message ?? ''}`;
      result.className = res.ok ? 'muted' : 'error';
      onDone();
    } catch (e) {
      result.textContent = `request failed: ${(e as Error).message}`;
    }
  }

  $('pause').addEventListener('click', () => void send({ action: 'pause' }));
  $('resume').addEventListener('click', () => void send({ action: 'resume' }));
  $('apply').addEventListener('click', () => {
    const body: Record<string, unknown> = { action: 'set' };
    const k = $<HTMLInputElement>('k').value;
    if (k !== '') body['k'] = Number(k);
    const lrD = Number($<HTMLInputElement>('lr-d').value);
    const lrG = Number($<HTMLInputElement>('lr-g').value);
    body['lr'] = { D: lrD, G: lrG };
    const strategy = $<HTMLSelectElement>('strategy').value;
    if (strategy) body['strategy'] = strategy;
    void send(body);
  });
}
