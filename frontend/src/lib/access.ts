// Words for what lesson_catalog() decided about a lesson (its `access`): the SQL decides, this
// only says it. The card and the lesson page both read it, so they never disagree.
import { formatDay } from "@/lib/dates";
import type { CatalogLesson } from "@/types/shop";

export type AccessWords = {
  /** A sentence on why the lesson is or is not the learner's, or null when the price says enough. */
  note: string | null;
  /** The buy button's text, or null when buying is not on offer. */
  buy: "Buy" | "Buy again" | "Try again" | null;
};

export function accessWords(lesson: Pick<CatalogLesson, "access" | "access_changed_at">): AccessWords {
  const on = lesson.access_changed_at ? ` on ${formatDay(lesson.access_changed_at)}` : "";
  switch (lesson.access) {
    case "free":
    case "owned":
      return { note: null, buy: null };
    case "processing":
      return { note: "Payment processing. We'll unlock the lesson when the payment is confirmed.", buy: null };
    case "disputed":
      return {
        note: "Your payment is disputed: access is paused while your bank reviews it.",
        buy: null,
      };
    case "failed":
      return { note: "Your last payment didn't go through. You were not charged.", buy: "Try again" };
    case "refunded":
      return { note: `Refunded${on}. Access ended.`, buy: "Buy again" };
    case "dispute_lost":
      return { note: `Your bank reversed the payment${on}. Access ended.`, buy: "Buy again" };
    case "available":
      return { note: null, buy: "Buy" };
  }
}
