// SPDX-License-Identifier: MIT
// A tiny Connect-protocol client (JSON codec) for the browser: unary calls are one POST, server
// streams are a POST whose response body is a sequence of enveloped messages (1 flag byte,
// 4-byte big-endian length, payload), ending with an end-of-stream envelope (flag 0x02).

const SERVICE = "/trellis2.v1.AssetGenerationService/";
const END_STREAM = 0x02;

/** An error a Connect server returned: `code` is a Connect code name, e.g. "invalid_argument". */
export class ConnectError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.code = code;
    this.rawMessage = message || "";
  }
}

let apiKey = "";

/** Sets the API key sent as `Authorization: Bearer <key>` (empty: none). */
export function setApiKey(key) {
  apiKey = key || "";
}

export function authHeaders() {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

/** Calls a unary method with a JSON request object; resolves to the JSON response. */
export async function unary(method, request, { signal } = {}) {
  const response = await fetch(SERVICE + method, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1", ...authHeaders() },
    body: JSON.stringify(request || {}),
    signal,
  });
  const text = await response.text();
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new ConnectError("unknown", `HTTP ${response.status}: ${text.slice(0, 200)}`);
  }
  if (!response.ok) throw new ConnectError(body.code || "unknown", body.message || `HTTP ${response.status}`);
  return body;
}

/**
 * Calls a server-streaming method; `onMessage(msg)` runs for each message. Resolves when the
 * stream ends cleanly, rejects with ConnectError when it ends with an error. Abort with `signal`.
 */
export async function serverStream(method, request, onMessage, { signal } = {}) {
  const payload = new TextEncoder().encode(JSON.stringify(request || {}));
  const body = new Uint8Array(5 + payload.length);
  new DataView(body.buffer).setUint32(1, payload.length);
  body.set(payload, 5);
  const response = await fetch(SERVICE + method, {
    method: "POST",
    headers: {
      "Content-Type": "application/connect+json",
      "Connect-Protocol-Version": "1",
      ...authHeaders(),
    },
    body,
    signal,
  });
  if (!response.ok) {
    let error = {};
    try {
      error = await response.json();
    } catch {
      /* not a Connect error body */
    }
    throw new ConnectError(error.code || "unknown", error.message || `HTTP ${response.status}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = concat(buffer, value);
    while (buffer.length >= 5) {
      const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      const flags = view.getUint8(0);
      const length = view.getUint32(1);
      if (buffer.length < 5 + length) break;
      const message = JSON.parse(decoder.decode(buffer.subarray(5, 5 + length)));
      buffer = buffer.slice(5 + length);
      if (flags & END_STREAM) {
        if (message.error) throw new ConnectError(message.error.code, message.error.message);
        return;
      }
      onMessage(message);
    }
  }
  throw new ConnectError("unavailable", "stream ended without an end-of-stream message");
}

function concat(a, b) {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
