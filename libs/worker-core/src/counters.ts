/** What a worker did over its lifetime (across reconnects). The volunteer page shows these as credit. */
export interface WorkerCounters {
  /** Connections opened (1 + reconnects). */
  connections: number;
  /** Tasks computed and sent as results. */
  tasksDone: number;
  /** Samples those results used (real + fake for D, fake for G). */
  samples: number;
  /** Compute time of those results, ms. */
  computeMs: number;
  /** Acks by status. */
  accepted: number;
  rejected: number;
  duplicates: number;
  /** Tasks answered with an error frame instead of a result (version mismatch, full queue, NaN gradients). */
  abstained: number;
  /** Tasks not run, or results not sent: the connection closed first, or the worker was stopping. */
  dropped: number;
}

export function createCounters(): WorkerCounters {
  return { connections: 0, tasksDone: 0, samples: 0, computeMs: 0, accepted: 0, rejected: 0, duplicates: 0, abstained: 0, dropped: 0 };
}
