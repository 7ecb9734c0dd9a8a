import { describe, expect, it } from "vitest";
import { redactHeaders, redactUrl } from "./call-view.ts";

describe("redaction", () => {
  it("hides credential headers whatever their case", () => {
    expect(
      redactHeaders({
        authorization: "Bearer x",
        "x-api-key": "k",
        "x-stripe-token": "t",
        accept: "json",
      }),
    ).toEqual({
      authorization: "[redacted]",
      "x-api-key": "[redacted]",
      "x-stripe-token": "[redacted]",
      accept: "json",
    });
  });

  it("hides user info and secret query parameters", () => {
    expect(redactUrl("https://user:pw@api.example.com/x?api_key=abc&page=2")).toBe(
      "https://%5Bredacted%5D@api.example.com/x?api_key=%5Bredacted%5D&page=2",
    );
    expect(redactUrl("https://api.example.com/x?page=2")).toBe("https://api.example.com/x?page=2");
  });
});
