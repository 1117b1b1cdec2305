import type { Database, Tables } from "@/types/database";

type Functions = Database["public"]["Functions"];

/** One row of lesson_catalog(): a published lesson with the caller's owned/pending flags. */
export type CatalogLesson = Functions["lesson_catalog"]["Returns"][number];

/** One row of purchase_history(). */
export type PurchaseRecord = Functions["purchase_history"]["Returns"][number];

/** The gated part of a lesson, readable when RLS allows. */
export type LessonContent = Pick<Tables<"lesson_content">, "body" | "media_url">;

/** Who is signed in, as much as pages need (serialisable for getServerSideProps). */
export type ShopUser = { id: string; email: string | null };
