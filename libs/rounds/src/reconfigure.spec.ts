import { describe, expect, it } from 'vitest';
import { MedianStrategy } from '@duel/aggregation';
import { ErrorCodes } from '@duel/util';
import { createRoundState } from './config';
import { step } from './machine';
import { config, Driver, only, RUN, SpyStrategy } from './test-harness';

describe('Reconfigure (run controls: k, strategy)', () => {
  it('a smaller k applies from the next position: D sub 0 is followed by G, versions untouched', () => {
    const d = new Driver(config({ shards: 1, run: { ...RUN, k: 3 } }));
    d.join('w1');
    expect(d.tasks().map((t) => t.taskId)).toEqual(['1.D0.0.0']);
    d.send({ type: 'Reconfigure', k: 1 });
    expect(d.st.versions).toEqual({ g: 0, d: 0 });
    const next = d.answer('w1');
    expect(d.tasks(next).map((t) => t.taskId)).toEqual(['1.G0.0.0']);
    const after = d.answer('w1');
    expect(d.tasks(after).map((t) => t.taskId)).toEqual(['2.D0.0.0']);
    expect(d.st.config.run.k).toBe(1);
  });

  it('a larger k adds D updates per step in async mode too', () => {
    const d = new Driver(config({ mode: 'async', shards: 1, run: { ...RUN, k: 1 } }));
    d.send({ type: 'Reconfigure', k: 2 });
    d.join('w1');
    const ids = [d.tasks()[0].taskId];
    for (let i = 0; i < 3; i++) ids.push(...d.tasks(d.answer('w1')).map((t) => t.taskId));
    expect(ids).toEqual(['1.D0.0.0', '1.D1.0.0', '1.G0.0.0', '2.D0.0.0']);
  });

  it('a new strategy aggregates from the next round close', () => {
    const spy = new SpyStrategy(new MedianStrategy());
    const d = new Driver(config({ shards: 1 }));
    d.join('w1');
    d.send({ type: 'Reconfigure', strategy: spy });
    expect(only(d.answer('w1'), 'ApplyUpdate')).toHaveLength(1);
    expect(spy.calls).toHaveLength(1);
  });

  it('does not mutate the RunConfig it was created with', () => {
    const run = { ...RUN };
    const st = createRoundState(config({ run }));
    step(st, { type: 'Reconfigure', k: 5 });
    expect(run.k).toBe(RUN.k);
    expect(st.config.run.k).toBe(5);
  });

  it('refuses a bad k or strategy with BAD_ARGUMENT and changes nothing', () => {
    const st = createRoundState(config());
    const before = st.config;
    for (const k of [0, 1.5, -1, 101, Number.NaN]) {
      expect(() => step(st, { type: 'Reconfigure', k })).toThrow(ErrorCodes.BAD_ARGUMENT);
    }
    expect(() => step(st, { type: 'Reconfigure', strategy: {} as never })).toThrow(ErrorCodes.BAD_ARGUMENT);
    expect(st.config).toBe(before);
  });
});
