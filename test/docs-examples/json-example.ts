// JSON examples as the docs write them: JSON where `…` elides. Parsed, then compared with what
// the server printed (`<!-- output -->`) or with a schema of the OpenAPI document
// (`<!-- shape: Name -->`).

/** A value the example elides (`…` where a value, member or element would be). */
export const ELIDED: unique symbol = Symbol("elided");

/** A parsed example: JSON values, with `ELIDED` for `…`. Elided members are dropped. */
export type Example =
  typeof ELIDED | null | boolean | number | string | Example[] | { [key: string]: Example };

/** Parses a JSON example in which `…` (or `...`) may stand for a value, members or elements. */
export function parseExample(text: string): Example {
  let at = 0;
  const fail = (what: string): never => {
    const line = text.slice(0, at).split("\n").length;
    throw new Error(
      `${what} at line ${line} of the block: ${JSON.stringify(text.slice(at, at + 20))}`,
    );
  };
  const space = (): void => {
    while (at < text.length && /\s/.test(text[at]!)) at++;
  };
  const ellipsis = (): boolean => {
    space();
    if (text.startsWith("…", at)) at += 1;
    else if (text.startsWith("...", at)) at += 3;
    else return false;
    return true;
  };
  const value = (): Example => {
    if (ellipsis()) return ELIDED;
    space();
    const c = text[at];
    if (c === "{") {
      at++;
      const object: { [key: string]: Example } = {};
      for (space(); text[at] !== "}"; space()) {
        if (!ellipsis()) {
          space();
          if (text[at] !== '"') fail("expected a member name");
          const key = string();
          space();
          if (text[at++] !== ":") fail("expected ':'");
          object[key] = value();
        }
        space();
        if (text[at] === ",") at++;
        else if (text[at] !== "}") fail("expected ',' or '}'");
      }
      at++;
      return object;
    }
    if (c === "[") {
      at++;
      const array: Example[] = [];
      for (space(); text[at] !== "]"; space()) {
        array.push(value());
        space();
        if (text[at] === ",") at++;
        else if (text[at] !== "]") fail("expected ',' or ']'");
      }
      at++;
      return array;
    }
    if (c === '"') return string();
    const literal = /^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(at));
    if (literal === null) return fail("expected a JSON value");
    at += literal[0].length;
    return JSON.parse(literal[0]) as Example;
  };
  const string = (): string => {
    const match = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(at));
    if (match === null) return fail("unterminated string");
    at += match[0].length;
    return JSON.parse(match[0]) as string;
  };
  const result = value();
  space();
  if (at < text.length) fail("unexpected text after the value");
  return result;
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/**
 * Whether an example string stands for a varying value: one with `…` (an id such as `call_01KDV…`:
 * only its type prefix up to `_` is kept), or an ISO time (any time).
 */
function matchesVarying(shown: string, actual: unknown): boolean | undefined {
  if (shown.includes("…")) {
    const head = shown.slice(0, shown.indexOf("…"));
    const prefix = head.includes("_") ? head.slice(0, head.indexOf("_") + 1) : "";
    return typeof actual === "string" && actual.startsWith(prefix);
  }
  if (ISO_TIME.test(shown)) return typeof actual === "string" && ISO_TIME.test(actual);
  return undefined;
}

/**
 * The differences between an example and an actual value: every member and element shown must be
 * there with the value shown (ids and times as varying values). Members the example leaves out
 * are not checked. Each difference names its JSON path.
 */
export function compareExample(shown: Example, actual: unknown, path = "$"): string[] {
  if (shown === ELIDED) return [];
  if (typeof shown === "string") {
    const varying = matchesVarying(shown, actual);
    if (varying !== undefined)
      return varying
        ? []
        : [`${path}: shown ${JSON.stringify(shown)}, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(shown)) {
    if (!Array.isArray(actual)) return [`${path}: shown an array, got ${JSON.stringify(actual)}`];
    const open = shown.includes(ELIDED);
    const items = shown.filter((item) => item !== ELIDED);
    if (!open && items.length !== actual.length)
      return [`${path}: shown ${items.length} elements, got ${actual.length}`];
    return items.flatMap((item, i) => compareExample(item, actual[i], `${path}[${i}]`));
  }
  if (shown !== null && typeof shown === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual))
      return [`${path}: shown an object, got ${JSON.stringify(actual)}`];
    const record = actual as Record<string, unknown>;
    return Object.entries(shown).flatMap(([key, value]) =>
      key in record
        ? compareExample(value, record[key], `${path}.${key}`)
        : [`${path}.${key}: shown, but the answer has no such member`],
    );
  }
  return Object.is(shown, actual)
    ? []
    : [`${path}: shown ${JSON.stringify(shown)}, got ${JSON.stringify(actual)}`];
}

/** A JSON Schema as the OpenAPI document holds it (the parts this check reads). */
interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}

function typeOf(value: Exclude<Example, typeof ELIDED>): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/**
 * The ways an example does not fit a schema of the OpenAPI document (`schemas` is its
 * `components.schemas`): a member the schema does not have, a value of the wrong type, outside an
 * enum, a pattern or a range. Members the example leaves out are not required: examples show
 * what matters.
 */
export function checkShape(
  shown: Example,
  schema: Schema,
  schemas: Record<string, Schema>,
  path = "$",
): string[] {
  if (shown === ELIDED) return [];
  if (schema.$ref !== undefined) {
    const name = schema.$ref.replace("#/components/schemas/", "");
    const target = schemas[name];
    if (target === undefined) return [`${path}: the document has no schema ${name}`];
    return checkShape(shown, target, schemas, path);
  }
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches !== undefined) {
    const results = branches.map((branch) => checkShape(shown, branch, schemas, path));
    if (results.some((errors) => errors.length === 0)) return [];
    return results.reduce((best, errors) => (errors.length < best.length ? errors : best));
  }
  const errors = (schema.allOf ?? []).flatMap((part) => checkShape(shown, part, schemas, path));
  const type = typeOf(shown);
  const allowed = schema.type === undefined ? undefined : [schema.type].flat();
  const typeOk =
    allowed === undefined ||
    allowed.includes(type) ||
    (type === "integer" && allowed.includes("number"));
  if (!typeOk)
    return [...errors, `${path}: ${JSON.stringify(shown)} is not ${allowed.join(" or ")}`];
  const elided = typeof shown === "string" && shown.includes("…");
  if (!elided) {
    if (schema.enum !== undefined && !schema.enum.includes(shown))
      errors.push(`${path}: ${JSON.stringify(shown)} is not one of ${JSON.stringify(schema.enum)}`);
    if (schema.const !== undefined && schema.const !== shown)
      errors.push(`${path}: ${JSON.stringify(shown)} is not ${JSON.stringify(schema.const)}`);
    if (typeof shown === "string" && schema.format === "date-time" && !ISO_TIME.test(shown))
      errors.push(`${path}: ${JSON.stringify(shown)} is not an ISO time`);
    if (
      typeof shown === "string" &&
      schema.pattern !== undefined &&
      !new RegExp(schema.pattern).test(shown)
    )
      errors.push(`${path}: ${JSON.stringify(shown)} does not match ${schema.pattern}`);
  }
  if (typeof shown === "number") {
    if (schema.minimum !== undefined && shown < schema.minimum)
      errors.push(`${path}: ${shown} is below ${schema.minimum}`);
    if (schema.maximum !== undefined && shown > schema.maximum)
      errors.push(`${path}: ${shown} is above ${schema.maximum}`);
  }
  if (Array.isArray(shown) && schema.items !== undefined) {
    const items = schema.items;
    shown.forEach((item, i) => errors.push(...checkShape(item, items, schemas, `${path}[${i}]`)));
  }
  if (shown !== null && typeof shown === "object" && !Array.isArray(shown)) {
    for (const [key, value] of Object.entries(shown)) {
      const property = schema.properties?.[key];
      if (property !== undefined)
        errors.push(...checkShape(value, property, schemas, `${path}.${key}`));
      else if (typeof schema.additionalProperties === "object")
        errors.push(...checkShape(value, schema.additionalProperties, schemas, `${path}.${key}`));
      else if (schema.additionalProperties === false)
        errors.push(`${path}.${key}: the schema has no such member`);
    }
  }
  return errors;
}
