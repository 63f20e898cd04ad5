import { HttpException } from '@nestjs/common';
import type { ApiError } from '@duel/api-types';
import type { DuelError, ErrorCode } from '@duel/util';

/** A refusal of the HTTP API: an {@link ApiError} body (stable code, one sentence) with its HTTP status. */
export function httpError(status: number, code: ErrorCode, message: string, extra: Omit<ApiError, 'code' | 'message'> = {}): HttpException {
  return new HttpException({ code, message, ...extra } satisfies ApiError, status);
}

/** A DuelError as a refusal; the body's message drops the "CODE: " prefix the code field already carries. */
export function httpErrorOf(e: DuelError, status: number, extra: Omit<ApiError, 'code' | 'message'> = {}): HttpException {
  return httpError(status, e.code, e.message.slice(e.code.length + 2), extra);
}
