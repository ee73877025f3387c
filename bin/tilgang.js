#!/usr/bin/env -S node --max-old-space-size=1024
// --max-old-space-size: below 2 GB V8 lets its old generation grow to at most about 1.6 times what was
// live at the last full GC instead of 4 times (its default on a machine with more than a few GB),
// so a process holding ~65 MB no longer sits at 300 MB of garbage between collections; 1 GB is far
// above what any role holds. The Dockerfile's ENTRYPOINT passes the same (a test keeps them equal).
// Runs the TypeScript CLI through tsx so there is no separate build step to forget.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
