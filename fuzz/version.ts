// The harness version recorded in every counterexample file: the
// package's own.
import { readFileSync } from 'node:fs';

export const HARNESS_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
