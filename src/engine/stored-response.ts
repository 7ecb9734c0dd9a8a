import type { StoredResponse } from "../core/call.ts";
import type { SendResult } from "../core/transport.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The stored form of a response: the body as UTF-8 text when it decodes as such (a truncated body
 * may end mid-character: the incomplete tail is dropped), otherwise base64.
 */
export function toStoredResponse(
  result: Extract<SendResult, { type: "response" }>,
): StoredResponse {
  let body: string;
  let bodyEncoding: StoredResponse["bodyEncoding"] = "utf8";
  try {
    // Streaming mode leaves an incomplete trailing sequence undecoded instead of failing; a
    // throwaway decoder keeps that state from leaking into the next response.
    body = result.bodyTruncated
      ? new TextDecoder("utf-8", { fatal: true }).decode(result.body, { stream: true })
      : decoder.decode(result.body);
  } catch {
    body = Buffer.from(result.body).toString("base64");
    bodyEncoding = "base64";
  }
  return {
    status: result.status,
    headers: result.headers,
    body,
    bodyEncoding,
    bodyTruncated: result.bodyTruncated,
    bodyBytes: result.bodyBytes,
  };
}
