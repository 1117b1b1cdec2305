// A lesson's media, ready for the reader: each file of the private bucket `lesson-media` behind
// a short-lived signed URL that Supabase Storage mints only while RLS lets the caller read the
// lesson (supabase/schemas/media.sql), and media kept at an outside address as they are.
//
// A signed URL is a bearer token: Storage checks access when it signs, not when it serves. So
// the TTL is the bound on how long a URL copied before a refund keeps working, and it is short
// (MEDIA_URL_TTL_SECONDS, default 600 s); the reader signs again before it runs out, and a
// learner who lost access gets no new URL.
import { loadLessonMedia, type Loaded } from "@/lib/queries";
import type { ShopClient } from "@/lib/supabase";
import type { LessonMediaRow } from "@/types/shop";

export const MEDIA_BUCKET = "lesson-media";
export const DEFAULT_MEDIA_TTL_SECONDS = 600;
const MIN_TTL_SECONDS = 30;
const MAX_TTL_SECONDS = 86_400;

/** One item the reader shows: a signed (or outside) URL, with captions for video and audio. */
export type ReaderMedia = {
  id: string;
  kind: LessonMediaRow["kind"];
  title: string;
  url: string;
  captionsUrl: string | null;
  external: boolean;
  durationSeconds: number | null;
  pageCount: number | null;
};

/** A lesson's media and when the first of their signed URLs runs out (epoch ms; null: none will). */
export type LessonMedia = { items: ReaderMedia[]; expiresAt: number | null };

/** MEDIA_URL_TTL_SECONDS as whole seconds between 30 and 86400, else the default (600). */
export function mediaTtlSeconds(value: string | undefined = process.env.MEDIA_URL_TTL_SECONDS): number {
  if (value === undefined || !/^[0-9]{1,6}$/.test(value.trim())) return DEFAULT_MEDIA_TTL_SECONDS;
  const seconds = Number(value.trim());
  return seconds >= MIN_TTL_SECONDS && seconds <= MAX_TTL_SECONDS ? seconds : DEFAULT_MEDIA_TTL_SECONDS;
}

/**
 * When the reader asks for fresh URLs: a fifth of the TTL (at most a minute) before they run
 * out, so a URL is never handed to the player in its last moments; never in the past.
 */
export function refreshDelayMs(expiresAt: number, ttlSeconds: number, now: number = Date.now()): number {
  const margin = Math.min(60_000, (ttlSeconds * 1000) / 5);
  return Math.max(0, expiresAt - margin - now);
}

async function signed(client: ShopClient, path: string, ttlSeconds: number, download = false): Promise<string | null> {
  // download: Storage answers with Content-Disposition: attachment (a cross-origin link's
  // `download` attribute is ignored by browsers)
  const { data, error } = await client.storage
    .from(MEDIA_BUCKET)
    .createSignedUrl(path, ttlSeconds, download ? { download: true } : undefined);
  return error || !data ? null : data.signedUrl;
}

/**
 * The lesson's media the caller may see, each file signed for `ttlSeconds`. A file Storage
 * refuses to sign (access gone since the rows were read, or not uploaded yet) is left out.
 */
export async function signLessonMedia(
  client: ShopClient,
  lessonId: string,
  ttlSeconds: number,
  now: number = Date.now(),
): Promise<Loaded<LessonMedia>> {
  const rows = await loadLessonMedia(client, lessonId);
  if (!rows.ok) return rows;
  const items = await Promise.all(
    rows.value.map(async (row): Promise<ReaderMedia | null> => {
      const base = {
        id: row.id,
        kind: row.kind,
        title: row.title,
        durationSeconds: row.duration_seconds,
        pageCount: row.page_count,
      };
      if (row.external_url) return { ...base, url: row.external_url, captionsUrl: null, external: true };
      if (!row.object_path) return null;
      const [url, captionsUrl] = await Promise.all([
        signed(client, row.object_path, ttlSeconds, row.kind === "pdf"),
        row.captions_path ? signed(client, row.captions_path, ttlSeconds) : Promise.resolve(null),
      ]);
      return url ? { ...base, url, captionsUrl, external: false } : null;
    }),
  );
  const shown = items.filter((item): item is ReaderMedia => item !== null);
  const expiresAt = shown.some((item) => !item.external) ? now + ttlSeconds * 1000 : null;
  return { ok: true, value: { items: shown, expiresAt } };
}

const KINDS = new Set(["video", "audio", "image", "pdf"]);

function isReaderMedia(value: unknown): value is ReaderMedia {
  if (typeof value !== "object" || value === null) return false;
  const item = value as Record<string, unknown>;
  return (
    typeof item.id === "string" &&
    typeof item.kind === "string" &&
    KINDS.has(item.kind) &&
    typeof item.title === "string" &&
    typeof item.url === "string" &&
    /^https?:\/\//.test(item.url) &&
    (item.captionsUrl === null || (typeof item.captionsUrl === "string" && /^https?:\/\//.test(item.captionsUrl))) &&
    typeof item.external === "boolean" &&
    (item.durationSeconds === null || typeof item.durationSeconds === "number") &&
    (item.pageCount === null || typeof item.pageCount === "number")
  );
}

/** The API route's answer, checked: what the browser puts in src attributes comes from here. */
export function parseLessonMedia(body: unknown): LessonMedia | null {
  if (typeof body !== "object" || body === null) return null;
  const { items, expiresAt } = body as Record<string, unknown>;
  if (!Array.isArray(items) || !items.every(isReaderMedia)) return null;
  if (expiresAt !== null && typeof expiresAt !== "number") return null;
  return { items, expiresAt };
}
