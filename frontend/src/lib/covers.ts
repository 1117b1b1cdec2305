// Lesson covers: public marketing images in the Supabase Storage bucket `lesson-covers`, served
// to anyone at the project's public object address (what supabase-js's getPublicUrl builds), so
// the catalogue, the lesson page and a link preview all point at the same file. Every cover is
// 16:9 at 960x540 (the operator's rule in the column's comment), which the page states as the
// image's width and height so nothing moves when it loads.
import type { Tables } from "@/types/database";

export const COVERS_BUCKET = "lesson-covers";
export const COVER_WIDTH = 960;
export const COVER_HEIGHT = 540;

/** A cover as a page shows it: an absolute URL and what it shows. */
export type Cover = { url: string; alt: string };

type CoverColumns = Pick<Tables<"lessons">, "cover_path" | "cover_alt">;

/** The cover's public URL on `supabaseUrl`'s Storage, or null when the lesson has none. */
export function coverOf(supabaseUrl: string, row: CoverColumns): Cover | null {
  if (!row.cover_path || !row.cover_alt) return null;
  const path = row.cover_path.split("/").map(encodeURIComponent).join("/");
  return { url: `${supabaseUrl}/storage/v1/object/public/${COVERS_BUCKET}/${path}`, alt: row.cover_alt };
}
