// The campaign's search engines by name (fuzz/slots.ts runs them; a
// counterexample file records which one found it).
export const ENGINES = ['scenario', 'guided', 'pct', 'random-walk', 'fast-check'] as const;
export type Engine = (typeof ENGINES)[number];
