// What the site's own API routes share: the lesson id pattern they accept, JSON answers that
// are never cached ({"error": {"code", "message"}} for a refusal, as the sidecar answers), and
// the gate of a route that changes something for the signed-in learner.
import type { IncomingMessage, ServerResponse } from "node:http";

import { isJsonContentType, isSameOrigin } from "@/lib/sameOrigin";
import { siteOrigin } from "@/lib/site";

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

/** Refuse (and answer) anything but `method` with a JSON body from this site's own pages: 405
 * for another method, 403 for another origin or another content type. True when it may go on. */
export function acceptsOwnJson(req: IncomingMessage, res: ServerResponse, method: string): boolean {
  if (req.method !== method) {
    fail(res, 405, "method_not_allowed", `Use ${method}.`, { Allow: method });
    return false;
  }
  if (!isSameOrigin(req.headers, siteOrigin())) {
    fail(res, 403, "cross_site_request", "This address answers this site's pages only.");
    return false;
  }
  if (!isJsonContentType(req.headers["content-type"])) {
    fail(res, 403, "unsupported_content_type", "Send JSON (Content-Type: application/json).");
    return false;
  }
  return true;
}
