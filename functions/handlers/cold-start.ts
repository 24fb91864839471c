/**
 * Once-per-cold-start construction for the Lambda handlers: what a handler
 * builds from its environment (adapters, SDK clients) is built on the first
 * invocation and reused by every later one in the same execution environment.
 */

/**
 * A getter that calls `build` on its first call and returns that value ever
 * after. A `build` that throws (a missing environment variable) is tried
 * again on the next call, so the error is reported by every invocation.
 */
export function oncePerColdStart<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}
