// The harness version recorded in every counterexample file: the
// package's own.
import { readFileSync } from 'node:fs';
import { ROOT } from './root.ts';

export const HARNESS_VERSION: string = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')).version;
