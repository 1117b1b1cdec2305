// What the site's own API routes share: the lesson id pattern they accept, and JSON answers that
// are never cached ({"error": {"code", "message"}} for a refusal, as the sidecar answers).
import type { ServerResponse } from "node:http";

/** A lesson id as the routes accept it (a uuid, any case). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Cache-Control", "private, no-store");
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(JSON.stringify(body));
}

export function fail(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  send(res, status, { error: { code, message } }, headers);
}
