// The reader's way to fresh signed URLs without a page reload: GET ?lesson_id=<uuid> signs the
// lesson's media again for the caller (the cookie session, or a visitor), exactly as the page
// did on the server, so Storage checks access again: a learner refunded since gets no items.
// Only this site's pages may call it (Origin or Sec-Fetch-Site); never cached.
import type { IncomingMessage, ServerResponse } from "node:http";

import { UUID, fail, send } from "@/lib/apiAnswer";
import { mediaTtlSeconds, signLessonMedia } from "@/lib/media";
import { isSameOrigin } from "@/lib/sameOrigin";
import { siteOrigin } from "@/lib/site";
import { createServerSupabase } from "@/lib/supabase";

export default async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "GET") {
    fail(res, 405, "method_not_allowed", "Use GET.", { Allow: "GET" });
    return;
  }
  if (!isSameOrigin(req.headers, siteOrigin())) {
    fail(res, 403, "cross_site_request", "This address answers this site's pages only.");
    return;
  }
  const lessonId = new URL(req.url ?? "/", "http://localhost").searchParams.getAll("lesson_id");
  if (lessonId.length !== 1 || !UUID.test(lessonId[0] ?? "")) {
    fail(res, 422, "invalid_lesson_id", "Say which lesson: ?lesson_id=<uuid>.");
    return;
  }
  const supabase = createServerSupabase(req, res);
  const media = await signLessonMedia(supabase, (lessonId[0] ?? "").toLowerCase(), mediaTtlSeconds());
  if (!media.ok) {
    console.error("lesson media failed", media.reason);
    fail(res, 503, "media_unavailable", "We couldn't load this lesson's media. Please try again.");
    return;
  }
  send(res, 200, media.value);
}
