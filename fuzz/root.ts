// Where the package's own files are: the folder holding its package.json,
// whether this module runs from the sources (fuzz/root.ts) or compiled
// (dist/fuzz/root.js).  Modules loaded by a worker thread are named with
// the extension this one has.

import { existsSync } from 'node:fs';

export const ROOT: URL = existsSync(new URL('../package.json', import.meta.url)) ? new URL('../', import.meta.url) : new URL('../../', import.meta.url);

export const MODULE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

// A module of this package for a worker thread, by its path without extension from fuzz/.
export function siblingModule(name: string): URL {
  return new URL(`./${name}${MODULE_EXT}`, import.meta.url);
}
