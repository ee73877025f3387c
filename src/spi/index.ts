/**
 * The contract between the runtime and a target. A target imports only this folder and
 * `src/lib/`; a test holds every file under `src/targets/` to that.
 */
export * from './config.js';
export * from './course.js';
export * from './errors.js';
export * from './operations.js';
export * from './person.js';
export * from './stream.js';
export * from './target.js';
