// The one way the shop writes a day (Purchases, and a lesson's "Refunded on …"): the same text
// on the server and in the browser, whatever their time zones.
const DAY = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: "UTC" });

/** An ISO timestamp as a day, e.g. "3 Dec 2026". */
export function formatDay(iso: string): string {
  return DAY.format(new Date(iso));
}

/**
 * An ISO timestamp as a date and time. In the browser, leave `locale` and `timeZone` out: the
 * learner's own language and clock. The server does not know them, so it renders UTC, saying so
 * (e.g. "3 Dec 2026, 14:05 UTC"), until the page hydrates (components/LocalTime.tsx).
 */
export function formatDateTime(iso: string, locale?: string, timeZone?: string): string {
  const text = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(
    new Date(iso),
  );
  return timeZone === "UTC" ? `${text} UTC` : text;
}

/** An ISO timestamp as a date alone, in `locale` and `timeZone` (the learner's when left out). */
export function formatDate(iso: string, locale?: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone }).format(new Date(iso));
}

/** An ISO timestamp's time of day alone (e.g. "2:05 PM"), saying UTC when that is the zone given. */
export function formatTime(iso: string, locale?: string, timeZone?: string): string {
  const text = new Intl.DateTimeFormat(locale, { timeStyle: "short", timeZone }).format(new Date(iso));
  return timeZone === "UTC" ? `${text} UTC` : text;
}
