// Copies of a lockstep execution, so the explorer can branch from a state
// instead of replaying the path to it.  The copy is deep and keeps
// aliasing (a pin both in a registration and in a frame stays one
// object, as the reference's pages shared between a file and a mapping
// do); what a run never changes is shared: kernel functions (`fn`, whose
// steps are code), the test case and what was read from it.

const shared = (key: string): boolean =>
  key === 'fn' || key === 'op' || key === 'prog' || key === 'tc' || key === 'variant' || key === 'flags' || key === 'nic' || key === 'signalAt' || key === 'allocFailAt';

export function deepCopy<T extends object>(root: T, memo = new Map<object, unknown>()): T {
  const copy = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const done = memo.get(v);
    if (done !== undefined) return done;
    if (ArrayBuffer.isView(v)) {
      const out = (v as unknown as Int32Array).slice();
      memo.set(v, out);
      return out;
    }
    if (Array.isArray(v)) {
      const out = new Array<unknown>(v.length);
      memo.set(v, out);
      for (let i = 0; i < v.length; i++) out[i] = copy(v[i]);
      return out;
    }
    if (v instanceof Map) {
      const out = new Map();
      memo.set(v, out);
      for (const [key, x] of v) out.set(key, copy(x));
      return out;
    }
    if (v instanceof Set) throw new Error('snapshot: a Set in the state (copy it by hand)');
    const o = v as Record<string, unknown>;
    const proto = Object.getPrototypeOf(v);
    // a spread keeps a plain object's shape, so the model's code that
    // reads the copy stays as fast as on the original
    const out = (proto === Object.prototype ? { ...o } : Object.assign(Object.create(proto), o)) as Record<string, unknown>;
    memo.set(v, out);
    for (const key in o) {
      const x = o[key];
      if (typeof x === 'object' && x !== null && !shared(key)) out[key] = copy(x);
    }
    return out;
  };
  return copy(root) as T;
}
