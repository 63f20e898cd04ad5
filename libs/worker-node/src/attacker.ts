import { decodeFrame, encodeFrame, type ResultFrame, type TaskFrame } from '@duel/protocol';
import { DuelError, ErrorCodes, type NamedWeights } from '@duel/util';
import { TaskRunner, type DatasetProvider, type Transport } from '@duel/worker-core';
import { ATTACKS, applyAttack, attackFor, type AttackName } from './attack-math';

/** The env switch without which `--attack` is refused, so a production worker cannot be turned by accident. */
export const ATTACK_ENV = 'DUEL_ALLOW_ATTACKS';

export interface AttackPlan {
  /** Attacks to use; with several, each task picks one by its seed (offset by `seed`). */
  attacks: AttackName[];
  /** ALIE's z (alieZ(n, f) for the run's n and f); default 1. */
  z?: number;
  /** Per-worker offset into `attacks` and noise seed. */
  seed?: number;
  /** Extra honest gradients ALIE computes to estimate μ and σ; default 4. */
  alieSamples?: number;
}

/** Parses `--attack signflip,alie`; refused unless DUEL_ALLOW_ATTACKS=1. */
export function parseAttacks(list: string, env: NodeJS.ProcessEnv): AttackName[] {
  if (env[ATTACK_ENV] !== '1') {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--attack exists for tests only; it needs ${ATTACK_ENV}=1 in the environment`);
  }
  const names = list.split(',').filter(Boolean);
  for (const n of names) {
    if (!(ATTACKS as readonly string[]).includes(n)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--attack: unknown attack "${n}"; known: ${ATTACKS.join(', ')}`);
  }
  if (names.length === 0) throw new DuelError(ErrorCodes.BAD_ARGUMENT, '--attack needs at least one attack');
  return names as AttackName[];
}

/**
 * A Byzantine worker, FOR TESTS ONLY: it sits between an honest WorkerSession
 * and its transport, watches the coordinator's frames (welcome, weights,
 * tasks) with a shadow TaskRunner, and replaces each outgoing result's
 * gradient with an attack. The honest session code is untouched.
 */
export class Attacker {
  private readonly shadow: TaskRunner;
  private ready: Promise<unknown> = Promise.resolve();
  private readonly tasks = new Map<string, TaskFrame>();
  private readonly offset: number;
  /** Results tampered with, by attack (for logs and tests). */
  readonly sent: Record<string, number> = {};

  constructor(
    private readonly plan: AttackPlan,
    loadDataset: DatasetProvider,
  ) {
    this.shadow = new TaskRunner(loadDataset);
    this.offset = plan.seed ?? 0;
  }

  /** Feed every frame the coordinator sends (before the session gets it). */
  observe(bytes: Uint8Array): void {
    let f;
    try {
      f = decodeFrame(bytes, { from: 'coordinator' });
    } catch {
      return; // the session reports it
    }
    if (f.t === 'welcome') {
      this.shadow.beginConnection();
      this.ready = this.shadow.prepare(f.run).catch(() => undefined);
    } else if (f.t === 'weights') {
      const { net, version } = f;
      const tensors = f.tensors.map((t) => ({ name: t.name, shape: [...t.shape], data: new Float32Array(t.data) }));
      this.ready = this.ready.then(() => this.shadow.setWeights(net, version, tensors)).catch(() => undefined);
    } else if (f.t === 'task') {
      this.tasks.set(f.taskId, f);
      if (this.tasks.size > 64) this.tasks.delete(this.tasks.keys().next().value!);
    }
  }

  /** The transport the session should use: results go out attacked, everything else as is. */
  wrap(inner: Transport): Transport {
    return {
      close: (code, reason) => inner.close(code, reason),
      send: (bytes, done) => {
        let f;
        try {
          f = decodeFrame(bytes, { from: 'worker' });
        } catch {
          return inner.send(bytes, done);
        }
        if (f.t !== 'result') return inner.send(bytes, done);
        const result = f;
        // The decoded gradients are views into `bytes`: the buffer stays the session's until tamper has read them.
        void this.tamper(result).then(
          (grads) => {
            const out = encodeFrame({ ...result, grads });
            done?.();
            inner.send(out);
          },
          () => inner.send(bytes, done),
        );
      },
    };
  }

  dispose(): void {
    this.shadow.reset();
  }

  private async tamper(r: ResultFrame): Promise<NamedWeights> {
    const task = this.tasks.get(r.taskId);
    this.tasks.delete(r.taskId);
    const seed = task?.seed ?? 0;
    const attack = attackFor(this.plan.attacks, seed, this.offset);
    this.sent[attack] = (this.sent[attack] ?? 0) + 1;
    const samples = attack === 'alie' && task ? await this.honestSamples(task) : [];
    return applyAttack(attack, r.grads, { seed, offset: this.offset, z: this.plan.z ?? 1, samples });
  }

  /** Gradients of the same update on other shards and seeds: what the honest workers send, as colluders would know. */
  private async honestSamples(task: TaskFrame): Promise<NamedWeights[]> {
    await this.ready;
    if (this.shadow.mismatch(task.versions)) return [];
    const out: NamedWeights[] = [];
    const m = this.plan.alieSamples ?? 4;
    for (let i = 1; i <= m; i++) {
      const shard = { index: (task.shard.index + i) % task.shard.count, count: task.shard.count };
      const g = await this.shadow.compute({ ...task, shard, seed: (task.seed + i * 7919) >>> 0 });
      out.push(g.grads);
    }
    return out;
  }
}
