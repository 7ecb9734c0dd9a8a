/**
 * How deeply a JSON value nests, measured without recursion (issue 10): a request nested 100,000
 * levels deep must get a clear `422`, not overflow the stack of `JSON.stringify` or of the
 * canonical JSON behind idempotency fingerprints. V8's `JSON.parse` is itself iterative, so a
 * parsed document of any depth reaches this check.
 */

/** The deepest nesting of arrays and objects a field of a request may have. */
export const MAX_JSON_DEPTH = 64;

/**
 * True when `value` nests arrays and objects more than `limit` levels deep (`1` and `"a"` are 0
 * levels, `{}` and `[1]` one, `{"a": [1]}` two). Walks with an explicit stack and stops at the
 * first branch past the limit, so neither a 100,000-level document nor a value that contains
 * itself costs more than the limit in depth.
 *
 * @example nestsDeeperThan([[[1]]], 2) // true
 */
export function nestsDeeperThan(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (typeof top.value !== "object" || top.value === null) continue;
    const depth = top.depth + 1;
    if (depth > limit) return true;
    for (const child of Object.values(top.value)) {
      if (typeof child === "object" && child !== null) stack.push({ value: child, depth });
    }
  }
  return false;
}
