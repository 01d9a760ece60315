// A counterexample file whose every free-form string (and its own name)
// tries to smuggle markup or script into a page: a real test case, so it
// replays, dressed up by someone hostile.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PWNED = '<script>window.__pwned=1</script>';

export function hostileCounterexample(dir: string): string {
  const cx = JSON.parse(readFileSync('corpus/result-mismatch/54530d6f1f6df0ef.json', 'utf8'));
  cx.variant.name = `</title>${PWNED}`;
  cx.harness = '<script>window.__pwned=2</script>';
  cx.divergence.message = '<img src=x onerror="window.__pwned=3"><svg onload="window.__pwned=4"></svg>';
  cx.search = { engine: 'explore', scenario: '"><script>window.__pwned=5</script>', states: 0 };
  cx.fastCheck = null;
  const sub = join(dir, '"><img src=x onerror=window.__pwned=6>');
  mkdirSync(sub, { recursive: true });
  const file = join(sub, '<script>window.__pwned=7<\\script>.json');
  writeFileSync(file, JSON.stringify(cx, null, 2));
  return file;
}
