// A table looked up by names that may come from a file or a command line:
// no prototype, so `constructor` or `__proto__` is not in it.
export function nameTable<T extends object>(entries: T): Readonly<T> {
  return Object.freeze(Object.assign(Object.create(null) as T, entries));
}
