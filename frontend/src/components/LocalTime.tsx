// A moment in the learner's own locale and time zone. The server cannot know either, so it
// renders UTC (and says so); once the page has hydrated, the browser writes it its own way.
// useSyncExternalStore gives the server's text during hydration and the browser's right after,
// so React never sees a mismatch.
import { useSyncExternalStore } from "react";

import { formatDate, formatDateTime, formatTime } from "@/lib/dates";

const noSubscription = () => () => undefined;

/** True in the browser after hydration, false on the server and while hydrating. */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    noSubscription,
    () => true,
    () => false,
  );
}

/**
 * `dateOnly`: the day alone. `twoLines`: the day and the time each kept whole, so a narrow
 * table column breaks between them and nowhere else.
 */
export function LocalTime({
  iso,
  dateOnly = false,
  twoLines = false,
}: {
  iso: string;
  dateOnly?: boolean;
  twoLines?: boolean;
}) {
  const hydrated = useHydrated();
  const [locale, zone] = hydrated ? [undefined, undefined] : ["en-GB", "UTC"];
  if (twoLines && !dateOnly) {
    return (
      <time dateTime={iso}>
        <span className="nowrap">{formatDate(iso, locale, zone)}</span>{" "}
        <span className="nowrap">{formatTime(iso, locale, zone)}</span>
      </time>
    );
  }
  const format = dateOnly ? formatDate : formatDateTime;
  return <time dateTime={iso}>{format(iso, locale, zone)}</time>;
}
