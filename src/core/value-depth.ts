/**
 * How deeply devalue will recurse to store and to read a value. Both its `stringify` and its
 * `parse` recurse once per level of nesting, so the call stack bounds the depth, and not by the
 * same amount on both sides: once `stringify` is optimised by the JIT its frames shrink and it
 * stores values that `parse`, with larger frames or less stack left at its call site, cannot
 * read. A run whose step result cannot be read cannot be replayed, so the codec refuses values
 * deeper than `MAX_VALUE_DEPTH`, half of what `parse` reads on a fresh process, before storing
 * them.
 *
 * The depth is measured here without recursion, in the order devalue walks (object keys, array
 * indices, each Map key then its value, Set values, a view's buffer, an error's stored payload),
 * each object counted where it is first met, as devalue's output (and so its parse) nests it.
 */
import { reduceError } from "./error-value.ts";

/** The deepest nesting of objects, arrays, maps and sets a stored value may have. */
export const MAX_VALUE_DEPTH = 1_000;

/**
 * True when `value` nests deeper than `limit` levels in devalue's walk (`{}` is one level,
 * `{ a: [1] }` two). Stops at the first branch past the limit; shared references and cycles are
 * walked once.
 */
export function nestsTooDeeply(value: unknown, limit: number = MAX_VALUE_DEPTH): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (limit < 1) return true;
  const seen = new Set<object>([value]);
  // One frame per level being walked: the children of an object and how far through them.
  const lists: (readonly unknown[])[] = [children(value)];
  const positions: number[] = [0];
  while (lists.length > 0) {
    const top = lists.length - 1;
    const list = lists[top]!;
    const position = positions[top]!;
    if (position === list.length) {
      lists.pop();
      positions.pop();
      continue;
    }
    positions[top] = position + 1;
    if (!(position in list)) {
      // A hole: the rest of a sparse array (its length may be 2^32 - 1), by its populated indices.
      lists[top] = populatedAfter(list, position);
      positions[top] = 0;
      continue;
    }
    const child = list[position];
    if (typeof child !== "object" || child === null || seen.has(child)) continue;
    seen.add(child);
    if (lists.length === limit) return true;
    lists.push(children(child));
    positions.push(0);
  }
  return false;
}

/** What devalue flattens inside `thing`, in its order (an array is its own list of children). */
function children(thing: object): readonly unknown[] {
  const error = reduceError(thing);
  if (error !== undefined) return [error];
  if (Array.isArray(thing)) return thing;
  if (thing instanceof Map) {
    const list: unknown[] = [];
    for (const [key, value] of thing as Map<unknown, unknown>) list.push(key, value);
    return list;
  }
  if (thing instanceof Set) return [...(thing as Set<unknown>)];
  if (ArrayBuffer.isView(thing)) return [thing.buffer];
  const prototype: unknown = Object.getPrototypeOf(thing);
  if (prototype !== Object.prototype && prototype !== null) return [];
  return Object.values(thing);
}

/** The elements of a sparse array past `hole`, without walking its holes. */
function populatedAfter(array: readonly unknown[], hole: number): unknown[] {
  const list: unknown[] = [];
  for (const key of Object.keys(array)) {
    const index = Number(key);
    if (Number.isInteger(index) && index > hole) list.push(array[index]);
  }
  return list;
}
