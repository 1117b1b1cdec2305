// Where the reader records how far a learner got: POST {"lesson_id", "section"} upserts the
// learner's lesson_progress row through their cookie session, so RLS decides (their own row, in a
// lesson whose content they may read). Only this site's pages may call it, as JSON.
import type { NextApiRequest, NextApiResponse } from "next";

import { UUID, acceptsOwnJson, fail } from "@/lib/apiAnswer";
import { saveProgress } from "@/lib/queries";
import { createServerSupabase, currentUser } from "@/lib/supabase";

export const config = { api: { bodyParser: { sizeLimit: "2kb" } } };

export default async function handler(req: NextApiRequest, res: NextApiResponse): Promise<void> {
  if (!acceptsOwnJson(req, res, "POST")) return;
  const body: unknown = req.body;
  const { lesson_id: lessonId, section } = (typeof body === "object" && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  if (typeof lessonId !== "string" || !UUID.test(lessonId)) {
    fail(res, 422, "invalid_lesson_id", "Say which lesson: lesson_id, a uuid.");
    return;
  }
  if (typeof section !== "string" || section.length > 200) {
    fail(res, 422, "invalid_section", "Say which section: section, at most 200 characters.");
    return;
  }
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  if (!user) {
    fail(res, 401, "not_signed_in", "Sign in to keep your place in a lesson.");
    return;
  }
  const saved = await saveProgress(supabase, lessonId.toLowerCase(), section);
  if (!saved.ok) {
    if (saved.refused) {
      fail(res, 403, "not_readable", "This lesson is not yours to read.");
      return;
    }
    console.error("progress failed", saved.reason);
    fail(res, 503, "progress_unavailable", "We couldn't save your place. It will be tried again.");
    return;
  }
  res.setHeader("Cache-Control", "private, no-store");
  res.status(204).end();
}
