// Every read the site makes from Supabase, in one place (the pattern of Next.js's Supabase
// starter's utils/supabase/queries.ts). Each runs with the client it is given, so RLS decides
// what the learner sees; pages call these and format the answer.
//
// The catalogue: lesson_catalog()'s `pending` covers open sessions too, and an open session is
// one the learner may simply have walked away from (or cancelled: Checkout's cancel link leaves
// it open), so Buy must stay on offer and the sidecar hands that session back. Only a session
// whose payment is *processing* (a delayed method awaiting the bank) holds the lesson as
// "Payment processing".
import type { ShopClient } from "@/lib/supabase";
import type { CatalogLesson, LessonContent, PurchaseRecord } from "@/types/shop";

export type Loaded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** One line of the Purchases page: a purchase, or a payment still processing (a delayed method). */
export type PurchaseRow = Pick<PurchaseRecord, "slug" | "title" | "amount_total" | "currency" | "status"> & {
  key: string;
  date: string;
};

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

/** A lesson's gated content, or null when RLS does not let the caller read it (free or owned only). */
export async function loadLessonContent(client: ShopClient, lessonId: string): Promise<Loaded<LessonContent | null>> {
  const { data, error } = await client
    .from("lesson_content")
    .select("body, media_url")
    .eq("lesson_id", lessonId)
    .maybeSingle();
  if (error) return { ok: false, reason: `lesson_content: ${error.code} ${error.message}` };
  return { ok: true, value: data };
}

/** The signed-in learner's purchases and processing payments, newest processing first. */
export async function loadPurchases(client: ShopClient): Promise<Loaded<PurchaseRow[]>> {
  const [history, processing] = await Promise.all([
    client.rpc("purchase_history"),
    client
      .from("checkout_sessions")
      .select("id, amount_total, currency, created_at, lessons(slug, title)")
      .eq("status", "processing")
      .order("created_at", { ascending: false }),
  ]);
  if (history.error) return { ok: false, reason: `purchase_history: ${history.error.code} ${history.error.message}` };
  if (processing.error) {
    return { ok: false, reason: `checkout_sessions: ${processing.error.code} ${processing.error.message}` };
  }
  return {
    ok: true,
    value: [
      ...processing.data.map((session) => ({
        key: session.id,
        slug: session.lessons.slug,
        title: session.lessons.title,
        amount_total: session.amount_total,
        currency: session.currency,
        status: "processing",
        date: session.created_at,
      })),
      ...history.data.map((purchase) => ({
        key: purchase.lesson_id,
        slug: purchase.slug,
        title: purchase.title,
        amount_total: purchase.amount_total,
        currency: purchase.currency,
        status: purchase.status,
        date: purchase.purchased_at,
      })),
    ],
  };
}
