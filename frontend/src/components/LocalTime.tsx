// A moment in the learner's own locale and time zone. The server cannot know either, so it
// renders UTC (and says so); once the page has hydrated, the browser writes it its own way.
// useSyncExternalStore gives the server's text during hydration and the browser's right after,
// so React never sees a mismatch.
import { useSyncExternalStore } from "react";

import { formatDate, formatDateTime } from "@/lib/dates";

const noSubscription = () => () => undefined;

/** True in the browser after hydration, false on the server and while hydrating. */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    noSubscription,
    () => true,
    () => false,
  );
}

export function LocalTime({ iso, dateOnly = false }: { iso: string; dateOnly?: boolean }) {
  const hydrated = useHydrated();
  const format = dateOnly ? formatDate : formatDateTime;
  return <time dateTime={iso}>{hydrated ? format(iso) : format(iso, "en-GB", "UTC")}</time>;
}
