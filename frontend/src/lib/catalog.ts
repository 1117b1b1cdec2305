// The catalogue as a learner sees it. lesson_catalog()'s `pending` covers open sessions too,
// and an open session is one the learner may simply have walked away from (or cancelled:
// Checkout's cancel link leaves it open), so Buy must stay on offer and the sidecar hands that
// session back. Only a session whose payment is *processing* (a delayed method awaiting the
// bank) holds the lesson as "Payment processing".
import type { ShopClient } from "@/lib/supabase";
import type { CatalogLesson } from "@/types/shop";

type Loaded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The ids of lessons with a payment processing for the signed-in learner (RLS: their own). */
async function processingLessons(client: ShopClient, lessonId?: string): Promise<Loaded<Set<string>>> {
  let query = client.from("checkout_sessions").select("lesson_id").eq("status", "processing");
  if (lessonId) query = query.eq("lesson_id", lessonId);
  const { data, error } = await query;
  if (error) return { ok: false, reason: `checkout_sessions: ${error.code} ${error.message}` };
  return { ok: true, value: new Set(data.map((row) => row.lesson_id)) };
}

function withProcessing(lesson: CatalogLesson, processing: Set<string>): CatalogLesson {
  return { ...lesson, pending: !lesson.owned && lesson.pending && processing.has(lesson.id) };
}

/** Every published lesson with the caller's owned / payment-processing flags. */
export async function loadCatalog(client: ShopClient, signedIn: boolean): Promise<Loaded<CatalogLesson[]>> {
  const { data, error } = await client.rpc("lesson_catalog");
  if (error) return { ok: false, reason: `lesson_catalog: ${error.code} ${error.message}` };
  if (!signedIn) return { ok: true, value: data };
  const processing = await processingLessons(client);
  if (!processing.ok) return processing;
  return { ok: true, value: data.map((lesson) => withProcessing(lesson, processing.value)) };
}

/** One published lesson by slug (null when there is none), with the same flags. */
export async function loadLesson(
  client: ShopClient,
  slug: string,
  signedIn: boolean,
): Promise<Loaded<CatalogLesson | null>> {
  const { data, error } = await client.rpc("lesson_catalog").eq("slug", slug).maybeSingle();
  if (error) return { ok: false, reason: `lesson_catalog: ${error.code} ${error.message}` };
  if (!data || !signedIn) return { ok: true, value: data };
  const processing = await processingLessons(client, data.id);
  if (!processing.ok) return processing;
  return { ok: true, value: withProcessing(data, processing.value) };
}
