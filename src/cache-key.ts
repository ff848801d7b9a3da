// One way to build a cache key from several parts, so two different lists of parts never make the same key (parts
// joined with "\n" collide as soon as one part holds a newline: a pattern source or a registry's Warning header can).
// Imports nothing.

/** An undefined part becomes null, which no string, number or boolean part can equal. */
export function cacheKey(...parts: ReadonlyArray<string | number | boolean | undefined>): string {
  return JSON.stringify(parts);
}
