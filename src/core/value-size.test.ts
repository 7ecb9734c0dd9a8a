import { describe, expect, it } from "vitest";
import { isSteadfastError } from "./errors.ts";
import { encodeValue } from "./value-codec.ts";
import { isValueCodecError } from "./value-errors.ts";
import { DEFAULT_VALUE_LIMITS, placeValue, valueLimits } from "./value-size.ts";

describe("placeValue", () => {
  it("keeps values up to 256 KiB inline and larger ones out of line, by default", () => {
    expect(placeValue(0, "output")).toBe("inline");
    expect(placeValue(256 * 1024, "output")).toBe("inline");
    expect(placeValue(256 * 1024 + 1, "output")).toBe("external");
    expect(placeValue(32 * 1024 * 1024, "output")).toBe("external");
  });

  it("refuses a value over maxValueBytes, naming the value, its size, the limit and the option", () => {
    let refusal: unknown;
    try {
      placeValue(40 * 1024 * 1024 + 300_000, 'result of step "export"');
    } catch (error) {
      refusal = error;
    }
    expect(isValueCodecError(refusal) && refusal.code).toBe("value_too_large");
    expect(isSteadfastError(refusal) && refusal.message).toBe(
      'result of step "export" is 40.3 MiB (42243040 bytes) encoded, over the limit of 32 MiB ' +
        "(maxValueBytes = 33554432): keep large data elsewhere (an object store) and return its " +
        "key, or raise maxValueBytes",
    );
  });

  it("follows given limits", () => {
    const limits = valueLimits({ maxInlineBytes: 10, maxValueBytes: 100 });
    expect(placeValue(10, "v", limits)).toBe("inline");
    expect(placeValue(11, "v", limits)).toBe("external");
    expect(() => placeValue(101, "v", limits)).toThrow(
      /v is 101 B \(101 bytes\) encoded, over the limit of 100 B/,
    );
  });

  it("decides on the size encodeValue reports", () => {
    const { bytes } = encodeValue({ blob: "é".repeat(200_000) }, "output");
    expect(bytes).toBeGreaterThan(400_000);
    expect(placeValue(bytes, "output")).toBe("external");
  });
});

describe("valueLimits", () => {
  it("fills in the defaults", () => {
    expect(valueLimits()).toEqual(DEFAULT_VALUE_LIMITS);
    expect(valueLimits({ maxValueBytes: 1 << 30 })).toEqual({
      maxInlineBytes: 256 * 1024,
      maxValueBytes: 1 << 30,
    });
  });

  it.each([
    [{ maxInlineBytes: -1 }, /maxInlineBytes must be a whole number of bytes, 0 or more; got -1/],
    [{ maxValueBytes: 1.5 }, /maxValueBytes must be a whole number of bytes, 0 or more; got 1.5/],
    [{ maxValueBytes: Number.NaN }, /maxValueBytes .* got NaN/],
    [
      { maxInlineBytes: 2048, maxValueBytes: 1024 },
      /maxInlineBytes \(2048\) must not be above maxValueBytes \(1024\)/,
    ],
  ])("refuses %j", (options, message) => {
    expect(() => valueLimits(options)).toThrow(message);
  });
});
