// Writes scenarios/sys-*.json from the table in fuzz/systematic.ts and
// removes the sys- files the table no longer has: `npm run scenarios`.
import { readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { SYSTEMATIC_PREFIX, scenarioText, systematicScenarios } from '../fuzz/systematic.ts';

const dir = new URL('../scenarios/', import.meta.url);
const table = systematicScenarios();
for (const f of readdirSync(dir)) if (f.startsWith(SYSTEMATIC_PREFIX) && !table.has(f.slice(0, -5))) unlinkSync(new URL(f, dir));
for (const [name, sc] of table) writeFileSync(new URL(`${name}.json`, dir), scenarioText(sc));
console.log(`${table.size} systematic scenarios written to scenarios/`);
