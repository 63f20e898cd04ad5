/**
 * @duel/api-types: the JSON shapes of the coordinator's HTTP API, shared by
 * the coordinator (which builds them) and the browser pages (which read them).
 * Types only, browser-safe.
 */
export type * from './api.types';
