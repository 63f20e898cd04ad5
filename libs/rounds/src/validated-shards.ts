import { ErrorCodes } from '@duel/util';
import { ack } from './effects';
import { majority, replicasAgree } from './validation';
import type { AcceptedResult, ResultReceivedEvent, RoundCommand, RoundState, ShardVotes, SyncRound, WorkerRecord } from './types';

/**
 * Sync rounds with validation by redundancy (RoundConfig.validation), in the
 * manner of BOINC's replication (Anderson 2004, "BOINC: a system for
 * public-resource computing"):
 *
 * - A shard a node worker computes counts as it always did: nodes are trusted.
 * - A shard a volunteer takes gets votes (ShardVotes) and stays pending until
 *   `replicas` distinct volunteers have been sent it: same TaskSpec, seed and
 *   versions, the next attempt number. It counts once `replicas` of their
 *   results agree (gradientDistance ≤ tolerance); the shard's gradient is then
 *   the first of them, so the update is the one a single honest worker gives
 *   (bit for bit with `duel local` when computed on the same backend), and all
 *   agreeing replicas are acked and credited with it at round close.
 * - Replicas that disagree are held, and one more replica is sent: to a node
 *   worker when one is present (its result is taken as is, and the volunteers
 *   that agree with it count too), else to another volunteer, where the largest
 *   agreeing group wins once it reaches `replicas`. Losers are rejected with
 *   DUEL_ERR_VALIDATION_MISMATCH. After maxReplicas volunteer results without
 *   agreement all are rejected and the shard waits for a node worker.
 * - A volunteer starts a fresh shard only while at least `replicas`
 *   volunteers are present: with fewer, volunteers wait ('no_work') and node
 *   workers compute every shard; a volunteers-only run waits for a second one.
 * - A replica that times out or whose worker leaves is sent again, to any
 *   volunteer without a vote on the shard (a node when none can take it).
 */

export function validating(st: RoundState): boolean {
  return st.config.validation !== undefined;
}

/**
 * Shard count for 'auto' shards under validation: a volunteer shard occupies
 * `replicas` volunteers, so they count as floor(volunteers / replicas) workers.
 */
export function shardWorkers(st: RoundState): Pick<WorkerRecord, 'maxBatch'>[] {
  const all = [...st.workers.values()];
  const v = st.config.validation;
  if (!v || all.length === 0) return all;
  const volunteers = all.filter((w) => w.kind === 'volunteer').length;
  const n = Math.max(1, all.length - volunteers + Math.floor(volunteers / v.replicas));
  const maxBatch = Math.min(...all.map((w) => w.maxBatch));
  return Array.from({ length: n }, () => ({ maxBatch }));
}

/** The index into round.pending of the shard idle worker `w` takes next, or −1; a node takes contested shards first. */
export function pickShard(st: RoundState, round: SyncRound, w: WorkerRecord): number {
  const ok = (shard: number) => round.shards[shard].spec.batch <= w.maxBatch && takes(st, round, shard, w);
  if (w.kind === 'node') {
    const i = round.pending.findIndex((shard) => ok(shard) && needsTrusted(round.shards[shard].votes));
    if (i >= 0) return i;
  }
  return round.pending.findIndex(ok);
}

/** Marks a shard sent to a volunteer as under validation. Call when sending. */
export function noteReplica(round: SyncRound, shard: number, w: WorkerRecord): void {
  const s = round.shards[shard];
  if (w.kind === 'volunteer' && !s.votes) s.votes = { candidates: [], contested: false, trustedOnly: false, partners: [] };
}

/**
 * Keeps a shard under validation in the pending queue (ascending) exactly
 * while it needs more replicas than are in flight. Call after anything that
 * changes its votes or attempts: a send, a result, an expiry, a leave.
 */
export function refreshPending(st: RoundState, round: SyncRound, shard: number): void {
  const at = round.pending.indexOf(shard);
  const want = wanted(st, round, shard) > 0;
  if (!want && at >= 0) round.pending.splice(at, 1);
  if (!want || at >= 0) return;
  let i = 0;
  while (i < round.pending.length && round.pending[i] < shard) i++;
  round.pending.splice(i, 0, shard);
}

/**
 * A result that passed the receipt checks, for a shard under validation: a
 * node's result decides; a volunteer's is a vote. Returns after acking what
 * is decided; the caller closes the round when every shard has a result.
 */
export function voteResult(st: RoundState, out: RoundCommand[], round: SyncRound, r: AcceptedResult): void {
  const s = round.shards[r.shard];
  const v = s.votes!;
  const cfg = st.config.validation!;
  if (r.kind === 'node') {
    const agree = v.candidates.filter((c) => replicasAgree(c.grads, r.grads, cfg.tolerance));
    decide(st, out, round, r, agree, true);
    return;
  }
  if (v.candidates.some((c) => c.workerId === r.workerId)) {
    // One vote per worker: its reassigned copy of the same shard cannot outvote anyone.
    ack(out, r.workerId, r.taskId, 'duplicate', ErrorCodes.DUPLICATE);
    refreshPending(st, round, r.shard);
    return;
  }
  v.candidates.push(r);
  const m = majority(
    v.candidates.map((c) => c.grads),
    cfg.tolerance,
    cfg.replicas,
  );
  if (m) {
    decide(st, out, round, v.candidates[m.winner], m.agrees.slice(1).map((i) => v.candidates[i]), false);
    return;
  }
  if (v.candidates.length >= cfg.maxReplicas) {
    const rejected = v.candidates.splice(0);
    for (const c of rejected) ack(out, c.workerId, c.taskId, 'rejected', ErrorCodes.VALIDATION_MISMATCH);
    v.trustedOnly = true;
    out.push(verdict(round, r.shard, 'failed', [], rejected, false));
  } else if (v.candidates.length >= cfg.replicas) {
    v.contested = true;
    out.push(verdict(round, r.shard, 'mismatch', [], [], false));
  }
  refreshPending(st, round, r.shard);
}

/** Partners of a shard's result: acked with it at round close. */
export function partnersOf(round: SyncRound, r: AcceptedResult): AcceptedResult[] {
  return round.shards[r.shard].votes?.partners ?? [];
}

/** Replicas still waiting for a verdict when their round ends without one (quorum close, shutdown). */
export function undecided(round: SyncRound): AcceptedResult[] {
  return round.shards.flatMap((s) => (s.result ? [] : (s.votes?.candidates ?? [])));
}

function decide(st: RoundState, out: RoundCommand[], round: SyncRound, winner: AcceptedResult, partners: AcceptedResult[], arbitrated: boolean): void {
  const s = round.shards[winner.shard];
  const v = s.votes!;
  const counted = new Set([winner, ...partners]);
  const losers = v.candidates.filter((c) => !counted.has(c));
  s.result = winner;
  v.partners = partners.filter((p) => p !== winner);
  v.candidates = [];
  for (const l of losers) ack(out, l.workerId, l.taskId, 'rejected', ErrorCodes.VALIDATION_MISMATCH);
  const p = round.pending.indexOf(winner.shard);
  if (p >= 0) round.pending.splice(p, 1);
  out.push(verdict(round, winner.shard, 'agreed', [winner, ...v.partners], losers, arbitrated));
}

function verdict(round: SyncRound, shard: number, outcome: 'agreed' | 'mismatch' | 'failed', accepted: AcceptedResult[], rejected: AcceptedResult[], arbitrated: boolean): RoundCommand {
  const { phase, step, sub } = round;
  return { type: 'Validated', outcome, phase, step, sub, shard, accepted: accepted.map((r) => r.workerId), rejected: rejected.map((r) => r.workerId), arbitrated };
}

function needsTrusted(v: ShardVotes | undefined): boolean {
  return v !== undefined && (v.contested || v.trustedOnly);
}

/** Whether worker `w` may be sent shard `shard` now (its maxBatch aside). */
function takes(st: RoundState, round: SyncRound, shard: number, w: WorkerRecord): boolean {
  const s = round.shards[shard];
  const v = s.votes;
  if (w.kind === 'node') return !v || needsTrusted(v) || !someVolunteerTakes(st, round, shard);
  if (!v) return presentFor(st, 'volunteer', s.spec.batch) >= st.config.validation!.replicas;
  if (v.trustedOnly || holdsVote(st, round, shard, w.id)) return false;
  // A disagreement goes to the trusted arbiter when there is one.
  return !(v.contested && presentFor(st, 'node', s.spec.batch) > 0);
}

function someVolunteerTakes(st: RoundState, round: SyncRound, shard: number): boolean {
  for (const u of st.workers.values()) if (u.kind === 'volunteer' && round.shards[shard].spec.batch <= u.maxBatch && takes(st, round, shard, u)) return true;
  return false;
}

function presentFor(st: RoundState, kind: WorkerRecord['kind'], batch: number): number {
  let n = 0;
  for (const w of st.workers.values()) if (w.kind === kind && batch <= w.maxBatch) n++;
  return n;
}

/** A worker votes once per shard: it has a replica in flight or a result held. */
function holdsVote(st: RoundState, round: SyncRound, shard: number, workerId: string): boolean {
  const v = round.shards[shard].votes!;
  if (v.candidates.some((c) => c.workerId === workerId)) return true;
  const w = st.workers.get(workerId);
  const a = w?.task ? round.attempts.get(w.task) : undefined;
  return a !== undefined && a.task.shard === shard && !a.expired;
}

/** Replicas the shard still needs sent: the votes it lacks, less the replicas in flight. */
function wanted(st: RoundState, round: SyncRound, shard: number): number {
  const s = round.shards[shard];
  const v = s.votes;
  if (!v || s.result) return 0;
  let live = 0;
  for (const a of round.attempts.values()) {
    const inFlight = a.task.shard === shard && !a.expired && st.workers.get(a.workerId)?.task === a.taskId;
    if (inFlight && (!v.trustedOnly || a.kind === 'node')) live++;
  }
  if (v.trustedOnly) return live > 0 ? 0 : 1;
  const target = v.contested ? v.candidates.length + 1 : st.config.validation!.replicas;
  return Math.max(0, target - v.candidates.length - live);
}

/** For syncResult: the AcceptedResult of a result event whose checks passed. */
export function acceptedOf(ev: ResultReceivedEvent, kind: WorkerRecord['kind'], shard: number, batch: number): AcceptedResult {
  return { taskId: ev.taskId, workerId: ev.workerId, kind, shard, batch, grads: ev.grads, stats: ev.stats };
}
