// Words for what lesson_catalog() decided about a lesson (its `access`): the SQL decides, this
// only says it. The card and the lesson page both read it, so they never disagree: first the
// sentence saying why, then the price with the way forward (a button or a link).
import { formatDay } from "@/lib/dates";
import type { CatalogLesson } from "@/types/shop";

export type AccessWords = {
  /** A sentence on why the lesson is or is not the learner's, or null when the price says enough. */
  note: string | null;
  /** A short state shown beside the price, or null. */
  badge: "Owned" | "Payment processing" | "Access paused" | null;
  /** The buy button's text, or null when buying is not on offer. */
  buy: "Buy" | "Buy again" | "Try again" | null;
  /** Whether the learner can read it now (a Read link). */
  read: boolean;
  /** Whether to point to Purchases ("See your payment"), where the payment and its reference are. */
  purchases: boolean;
};

const NOTHING = { note: null, badge: null, buy: null, read: false, purchases: false } as const;

export function accessWords(lesson: Pick<CatalogLesson, "access" | "access_changed_at">): AccessWords {
  const on = lesson.access_changed_at ? ` on ${formatDay(lesson.access_changed_at)}` : "";
  switch (lesson.access) {
    case "free":
      return { ...NOTHING, read: true };
    case "owned":
      return { ...NOTHING, badge: "Owned", read: true };
    case "processing":
      return {
        ...NOTHING,
        note: "We'll unlock the lesson when your bank confirms the payment.",
        badge: "Payment processing",
        purchases: true,
      };
    case "disputed":
      return {
        ...NOTHING,
        note: "Your payment is disputed: access is paused while your bank reviews it.",
        badge: "Access paused",
        purchases: true,
      };
    case "failed":
      return { ...NOTHING, note: "Your last payment didn't go through. You were not charged.", buy: "Try again" };
    case "refunded":
      return { ...NOTHING, note: `Refunded${on}. Access ended.`, buy: "Buy again" };
    case "dispute_lost":
      return { ...NOTHING, note: `Your bank reversed the payment${on}. Access ended.`, buy: "Buy again" };
    case "available":
      return { ...NOTHING, buy: "Buy" };
  }
}
