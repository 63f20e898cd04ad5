import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '@duel/util';
import { parse } from './args';
import { coordinatorFlags, coordinatorOptionsFrom } from './coordinator.flags';

const optionsOf = (argv: string[]) => coordinatorOptionsFrom(parse(argv, { ...coordinatorFlags }));

describe('--validate-volunteers[=TOL]', () => {
  it('is off unless given; bare, it takes the default tolerance; =TOL sets it', () => {
    expect(optionsOf([]).validation).toBeUndefined();
    expect(optionsOf(['--validate-volunteers']).validation).toEqual({});
    expect(optionsOf(['--validate-volunteers', '--steps', '3']).validation).toEqual({});
    expect(optionsOf(['--validate-volunteers=0.01']).validation).toEqual({ tolerance: 0.01 });
  });

  it('refuses a bad tolerance, async mode, a lossy codec, and a value without "="', () => {
    expect(() => optionsOf(['--validate-volunteers=abc'])).toThrow(ErrorCodes.BAD_ARGUMENT);
    expect(() => optionsOf(['--validate-volunteers=-1'])).toThrow(/tolerance must be a number ≥ 0/);
    expect(() => optionsOf(['--validate-volunteers', '--mode', 'async'])).toThrow(/needs --mode sync/);
    expect(() => optionsOf(['--validate-volunteers', '--codec', 'int8'])).toThrow(/needs --codec fp32/);
    expect(() => optionsOf(['--validate-volunteers', '--codec-volunteer', 'fp16'])).toThrow(/needs --codec-volunteer fp32, not fp16/);
    expect(optionsOf(['--validate-volunteers', '--codec-volunteer', 'fp32']).validation).toEqual({});
    expect(optionsOf(['--validate-volunteers', '--codec', 'fp32']).validation).toEqual({});
    expect(() => optionsOf(['--validate-volunteers', '0.01'])).toThrow(/takes a value only as --validate-volunteers=VALUE/);
  });
});

describe('--codec-volunteer', () => {
  it('sets the volunteers\' codec apart from --codec, and refuses an unknown one', () => {
    expect(optionsOf(['--codec-volunteer', 'int8'])).toMatchObject({ codecVolunteer: { name: 'int8' } });
    expect(optionsOf(['--codec-volunteer', 'int8']).codec).toBeUndefined();
    expect(optionsOf(['--codec-volunteer', 'topk:0.05', '--codec', 'fp16'])).toMatchObject({ codec: { name: 'fp16' }, codecVolunteer: { name: 'topk', ratio: 0.05 } });
    expect(optionsOf([]).codecVolunteer).toBeUndefined();
    expect(() => optionsOf(['--codec-volunteer', 'gzip'])).toThrow(ErrorCodes.BAD_ARGUMENT);
  });
});
