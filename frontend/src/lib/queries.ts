// Every read the site makes from Supabase, in one place (the pattern of Next.js's Supabase
// starter's utils/supabase/queries.ts). Each runs with the client it is given, so RLS decides
// what the learner sees; pages call these and format the answer.
//
// What each lesson offers the learner (free, owned, payment processing, available) and the rows
// of the Purchases page are decided in SQL (lesson_catalog().access, purchase_list()).
import type { ShopClient } from "@/lib/supabase";
import type { CatalogLesson, LessonContent, LessonDetails, LessonMediaRow, PurchaseRow } from "@/types/shop";

export type Loaded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Every published lesson with what it offers the caller. */
export async function loadCatalog(client: ShopClient): Promise<Loaded<CatalogLesson[]>> {
  const { data, error } = await client.rpc("lesson_catalog");
  if (error) return { ok: false, reason: `lesson_catalog: ${error.code} ${error.message}` };
  return { ok: true, value: data };
}

/** One published lesson by slug (null when there is none), with what it offers the caller. */
export async function loadLesson(client: ShopClient, slug: string): Promise<Loaded<CatalogLesson | null>> {
  const { data, error } = await client.rpc("lesson_catalog").eq("slug", slug).maybeSingle();
  if (error) return { ok: false, reason: `lesson_catalog: ${error.code} ${error.message}` };
  return { ok: true, value: data };
}

/** The covers of the published lessons that have one (lesson id → its columns). */
export async function loadCovers(
  client: ShopClient,
): Promise<Loaded<Map<string, Pick<LessonDetails, "cover_path" | "cover_alt">>>> {
  const { data, error } = await client
    .from("lessons")
    .select("id, cover_path, cover_alt")
    .eq("published", true)
    .not("cover_path", "is", null);
  if (error) return { ok: false, reason: `lessons: ${error.code} ${error.message}` };
  return { ok: true, value: new Map(data.map(({ id, ...cover }) => [id, cover])) };
}

/** A lesson's gated content, or null when RLS does not let the caller read it (free or owned only). */
export async function loadLessonContent(client: ShopClient, lessonId: string): Promise<Loaded<LessonContent | null>> {
  const { data, error } = await client.from("lesson_content").select("body").eq("lesson_id", lessonId).maybeSingle();
  if (error) return { ok: false, reason: `lesson_content: ${error.code} ${error.message}` };
  return { ok: true, value: data };
}

/**
 * A lesson's media in the reader's order; RLS shows them exactly when the caller may read the
 * lesson's content (the storage files behind them are signed by lib/media.ts).
 */
export async function loadLessonMedia(client: ShopClient, lessonId: string): Promise<Loaded<LessonMediaRow[]>> {
  const { data, error } = await client
    .from("lesson_media")
    .select("id, kind, title, object_path, captions_path, external_url, duration_seconds, page_count")
    .eq("lesson_id", lessonId)
    .order("position");
  if (error) return { ok: false, reason: `lesson_media: ${error.code} ${error.message}` };
  return { ok: true, value: data };
}

/** The signed-in learner's Purchases page: payments processing, then purchases, newest first. */
export async function loadPurchases(client: ShopClient): Promise<Loaded<PurchaseRow[]>> {
  const { data, error } = await client.rpc("purchase_list");
  if (error) return { ok: false, reason: `purchase_list: ${error.code} ${error.message}` };
  return { ok: true, value: data };
}

/** What a lesson's page shows before anyone buys: outline, time, level, author, free preview. */
export async function loadLessonDetails(client: ShopClient, lessonId: string): Promise<Loaded<LessonDetails | null>> {
  const { data, error } = await client
    .from("lessons")
    .select("outline, minutes, level, author, preview, cover_path, cover_alt")
    .eq("id", lessonId)
    .maybeSingle();
  if (error) return { ok: false, reason: `lessons: ${error.code} ${error.message}` };
  return { ok: true, value: data };
}

/** The section the signed-in learner last reached in a lesson (null: none recorded, or signed out). */
export async function loadProgress(client: ShopClient, lessonId: string): Promise<Loaded<string | null>> {
  const { data, error } = await client
    .from("lesson_progress")
    .select("section")
    .eq("lesson_id", lessonId)
    .maybeSingle();
  if (error) return { ok: false, reason: `lesson_progress: ${error.code} ${error.message}` };
  return { ok: true, value: data?.section || null };
}

/** Record the section a learner reached; RLS refuses a lesson they may not read (42501). */
export async function saveProgress(
  client: ShopClient,
  lessonId: string,
  section: string,
): Promise<Loaded<null> & { refused?: boolean }> {
  const { error } = await client
    .from("lesson_progress")
    .upsert({ lesson_id: lessonId, section }, { onConflict: "user_id,lesson_id" });
  if (error)
    return { ok: false, reason: `lesson_progress: ${error.code} ${error.message}`, refused: error.code === "42501" };
  return { ok: true, value: null };
}
