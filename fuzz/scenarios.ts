// The shipped scenarios (scenarios/*.json): their names and what each is
// about, read without loading the explorer.

import { readdirSync, readFileSync } from 'node:fs';
import { ROOT } from './root.ts';

export const SCENARIO_DIR = new URL('scenarios/', ROOT);

export function scenarioNames(): string[] {
  return readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

export function scenarioAbout(name: string): string {
  try {
    const about = (JSON.parse(readFileSync(new URL(`${name}.json`, SCENARIO_DIR), 'utf8')) as { about?: unknown }).about;
    return typeof about === 'string' ? about : '';
  } catch {
    return '';
  }
}
