// The one way the shop writes a day (Purchases, and a lesson's "Refunded on …"): the same text
// on the server and in the browser, whatever their time zones.
const DAY = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: "UTC" });

/** An ISO timestamp as a day, e.g. "3 Dec 2026". */
export function formatDay(iso: string): string {
  return DAY.format(new Date(iso));
}
