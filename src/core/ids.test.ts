import { describe, expect, it } from "vitest";
import { SeededRandom } from "../testing/seeded-random.ts";
import { isCallId, newCallId } from "./ids.ts";

describe("call ids", () => {
  it("sort by creation time and have the documented shape", () => {
    const random = new SeededRandom(3);
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map((t) =>
      newCallId(t, random),
    );
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(isCallId(id)).toBe(true);
    expect(isCallId("call_nope")).toBe(false);
  });
});
