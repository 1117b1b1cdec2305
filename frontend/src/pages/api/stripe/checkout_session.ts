// The browser's way to Checkout: POST opens (or reuses) a Checkout Session for one lesson, GET
// reads one back for the return page. The learner comes from the cookie session, checked with
// Supabase Auth; their access token is forwarded to the sidecar, which trusts nothing else.
// Only this site's pages may call it (Origin or Sec-Fetch-Site), and a POST only with a JSON
// body: anything else is a 403 before the learner or the sidecar is asked anything.
// Plain Node request/response methods only, so the handler runs under any http server.
import type { IncomingMessage, ServerResponse } from "node:http";

import { UUID } from "@/lib/apiAnswer";
import { describeProblem, UNREACHABLE } from "@/lib/checkoutErrors";
import { isCheckoutSessionId } from "@/lib/checkoutSession";
import { isJsonContentType, isSameOrigin } from "@/lib/sameOrigin";
import { siteOrigin } from "@/lib/site";
import { createServerSupabase } from "@/lib/supabase";
import type { CheckoutSessionLink, CheckoutSessionState, ErrorBody } from "@/types/shop";

export const config = { api: { bodyParser: false } };

const ALLOW = "GET, POST";
const MAX_BODY_BYTES = 4096;
const SIDECAR_TIMEOUT_MS = 15_000;
const CHECKOUT_URL = /^https?:\/\//;

/** The sidecar's base URL (SIDECAR_URL, read per request): server-side only. */
function sidecarUrl(): string | null {
  const value = process.env.SIDECAR_URL;
  return value ? value.replace(/\/+$/, "") : null;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function send(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}) {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Cache-Control", "no-store");
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}) {
  const { message } = describeProblem(status, code);
  send(res, status, { error: { code, message } }, headers);
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The lesson id if the body is exactly {"lesson_id": "<uuid>"}, else null. */
export function parseCheckoutBody(raw: string): string | null {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== "lesson_id") return null;
  const lessonId = (body as { lesson_id: unknown }).lesson_id;
  return typeof lessonId === "string" && UUID.test(lessonId) ? lessonId.toLowerCase() : null;
}

/** The learner's access token, once Supabase Auth has confirmed who they are; else null. */
// getUser(), not getClaims(): a Checkout Session is opened (or read back) only for a learner
// Supabase Auth itself still knows, not for one deleted or banned since the token was issued.
async function accessToken(req: IncomingMessage, res: ServerResponse): Promise<string | null> {
  const supabase = createServerSupabase(req, res);
  try {
    const { data: checked, error } = await supabase.auth.getUser();
    if (error || !checked.user) return null;
    const { data } = await supabase.auth.getSession();
    return data.session?.access_token ?? null;
  } catch {
    return null; // a session supabase-js cannot read is no session
  }
}

/**
 * A refusal's code, when it has a plain one. Not every refusal is the sidecar's ErrorBody
 * (Litestar answers its own 400s in another shape, a proxy in front may answer HTML), and the
 * code goes back to the browser, so it is checked here.
 */
function errorCode(body: unknown): string | null {
  const code: unknown = (body as Partial<ErrorBody> | null)?.error?.code;
  return typeof code === "string" && /^[a-z_]{1,64}$/.test(code) ? code : null;
}

/** The sidecar's answer: its status and the JSON body (null when the body was not JSON). */
type SidecarAnswer = { status: number; body: unknown };

/** A success body typed by the sidecar's OpenAPI document, once it is a JSON object at all. */
function successBody<T>(answer: SidecarAnswer): T | null {
  return typeof answer.body === "object" && answer.body !== null ? (answer.body as T) : null;
}

/** Ask the sidecar; its answer (status, parsed JSON) or null when it cannot be reached. */
async function callSidecar(
  path: string,
  token: string,
  init: { method: "GET" | "POST"; body?: string },
): Promise<SidecarAnswer | null> {
  const base = sidecarUrl();
  if (!base) return null;
  try {
    const response = await fetch(`${base}${path}`, {
      method: init.method,
      body: init.body,
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: "application/json",
        ...(init.body ? { "Content-Type": "application/json" } : {}),
      },
      signal: AbortSignal.timeout(SIDECAR_TIMEOUT_MS),
      cache: "no-store",
    });
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { status: response.status, body };
  } catch {
    return null;
  }
}

/** Pass a sidecar refusal on with its status and code, in our words. */
function relayError(res: ServerResponse, status: number, body: unknown) {
  const code = errorCode(body) ?? (status >= 500 ? "service_unavailable" : "checkout_failed");
  fail(res, status >= 400 && status <= 599 ? status : 502, code);
}

async function createSession(req: IncomingMessage, res: ServerResponse) {
  let raw: string;
  try {
    raw = await readBody(req);
  } catch (error) {
    if (error instanceof BodyTooLarge) return fail(res, 413, "payload_too_large");
    throw error;
  }
  const lessonId = parseCheckoutBody(raw);
  if (!lessonId) return fail(res, 422, "invalid_body");
  const token = await accessToken(req, res);
  if (!token) return fail(res, 401, "not_signed_in");

  const answer = await callSidecar("/v1/checkout/sessions", token, {
    method: "POST",
    body: JSON.stringify({ lesson_id: lessonId }),
  });
  if (!answer) {
    return send(res, 503, { error: { code: "payment_service_unreachable", message: UNREACHABLE } });
  }
  if (answer.status === 200 || answer.status === 201) {
    const link = successBody<CheckoutSessionLink>(answer);
    // The learner's browser is sent to this url: only ever an http(s) page, never javascript:
    // or anything else a compromised or confused upstream might hand back.
    const url: unknown = link?.url;
    if (!link || typeof url !== "string" || !CHECKOUT_URL.test(url)) return fail(res, 502, "bad_gateway");
    return send(res, answer.status, { id: link.id, url } satisfies CheckoutSessionLink);
  }
  return relayError(res, answer.status, answer.body);
}

async function readSession(req: IncomingMessage, res: ServerResponse) {
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  const sessionId = query.get("session_id") ?? "";
  if (!isCheckoutSessionId(sessionId)) return fail(res, 422, "invalid_session_id");
  const token = await accessToken(req, res);
  if (!token) return fail(res, 401, "not_signed_in");

  const answer = await callSidecar(`/v1/checkout/sessions/${sessionId}`, token, { method: "GET" });
  if (!answer) {
    return send(res, 503, { error: { code: "payment_service_unreachable", message: UNREACHABLE } });
  }
  if (answer.status === 200) {
    const session = successBody<CheckoutSessionState>(answer);
    if (!session) return fail(res, 502, "bad_gateway");
    // the documented fields only: anything else the sidecar may add stays server-side
    const { id, lesson_id, status, payment_status, owned } = session;
    return send(res, 200, { id, lesson_id, status, payment_status, owned } satisfies CheckoutSessionState);
  }
  return relayError(res, answer.status, answer.body);
}

export default async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST" && req.method !== "GET") return fail(res, 405, "method_not_allowed", { Allow: ALLOW });
  if (!isSameOrigin(req.headers, siteOrigin())) return fail(res, 403, "cross_site_request");
  if (req.method === "GET") return readSession(req, res);
  if (!isJsonContentType(req.headers["content-type"])) return fail(res, 403, "unsupported_content_type");
  return createSession(req, res);
}
