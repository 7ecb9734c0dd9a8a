// A plain fixed-width table for benchmark output: by default the first column left-aligned, the
// rest right-aligned.

/**
 * Renders `rows` under `header` with a dashed rule, columns two spaces apart; `rightAligned` says
 * which columns are padded on the left (default: all but the first).
 *
 * @example
 * console.log(formatGrid(["system", "1 process"], [["steadfast", "8,000"]]));
 */
export function formatGrid(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: (column: number) => boolean = (column) => column > 0,
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const render = (cells: readonly string[]): string =>
    widths
      .map((width, column) => {
        const cell = cells[column] ?? "";
        return rightAligned(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [
    render(header),
    render(widths.map((width) => "-".repeat(width))),
    ...rows.map(render),
  ].join("\n");
}
