import { describe, expect, it } from "vitest";
import {
  holdFirstRequestOfEach,
  overlappingRequests,
  type ReceivedRequest,
} from "./flaky-upstream.ts";

const request = (key: string, receivedAt: number, finishedAt?: number): ReceivedRequest => ({
  n: 0,
  method: "GET",
  path: "/",
  headers: { "idempotency-key": key },
  body: "",
  receivedAt,
  ...(finishedAt === undefined ? {} : { finishedAt }),
});

describe("overlappingRequests", () => {
  it("finds a key executing twice at once, and only that", () => {
    const sequential = [request("a", 0, 10), request("a", 11, 20)];
    const concurrent = [request("b", 0, 10), request("b", 5, 15)];
    const unfinished = [request("c", 0), request("c", 50, 60)];
    expect(overlappingRequests([...sequential, request("d", 1, 2)], "idempotency-key")).toEqual([]);
    expect(
      overlappingRequests([...sequential, ...concurrent, ...unfinished], "idempotency-key"),
    ).toEqual([
      [concurrent[0], concurrent[1]],
      [unfinished[0], unfinished[1]],
    ]);
  });
});

describe("holdFirstRequestOfEach", () => {
  it("holds the first request of each key and answers the later ones", () => {
    const script = holdFirstRequestOfEach("idempotency-key");
    expect(["a", "b", "a", "a", "b"].map((key) => script(request(key, 0)))).toEqual([
      "hang",
      "hang",
      { status: 200 },
      { status: 200 },
      { status: 200 },
    ]);
  });
});
