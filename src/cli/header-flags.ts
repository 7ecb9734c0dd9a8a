/**
 * Header flags of the CLI (`-H 'Name: value'`, repeatable): collected by commander and read
 * here, the one place that checks them (`steadfast fetch`, `steadfast idempotency-check`).
 */
import { TOKEN_PATTERN } from "../core/http-fields.ts";
import { isSecretHeader, REDACTED } from "../core/redact.ts";
import { CliError } from "./cli-error.ts";

/** Commander's collector of a repeatable flag: every value given, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * `values` of `flag` as `[name, value]` pairs, the value trimmed. Throws `CliError` for one that
 * is not `Name: value`, without echoing a credential it may hold.
 *
 * @example parseHeaderFlags(["Accept: application/json"], "-H") // [["Accept", "application/json"]]
 */
export function parseHeaderFlags(values: readonly string[], flag: string): [string, string][] {
  return values.map((header) => {
    const colon = header.indexOf(":");
    const name = colon < 0 ? "" : header.slice(0, colon).trim();
    if (!TOKEN_PATTERN.test(name)) {
      // A credential header with a typo (`Authorization Bearer ...`) must not be echoed.
      const first = header.trim().split(/[\s:=]/, 1)[0] ?? "";
      const shown = isSecretHeader(first) ? `${first} ${REDACTED}` : header;
      throw new CliError(
        `${flag} ${JSON.stringify(shown)} is not valid: expected 'Name: value', such as ${flag} 'Accept: application/json'`,
      );
    }
    return [name, header.slice(colon + 1).trim()];
  });
}
