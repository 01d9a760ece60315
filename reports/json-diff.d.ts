// The part of json-diff 1.0.6 the reports use (it ships no types).
declare module 'json-diff' {
  interface Options {
    maxElisions?: number;
    full?: boolean;
  }
  function diff(a: unknown, b: unknown, options?: Options): unknown;
  function colorizeToCallback(diff: unknown, options: Options, output: (sign: ' ' | '-' | '+', line: string) => void): void;
  const _default: { diff: typeof diff; colorizeToCallback: typeof colorizeToCallback };
  export default _default;
}
