import type { Database, Tables } from "@/types/database";
import type { components, operations } from "@/types/sidecar";

type Functions = Database["public"]["Functions"];

/** One row of lesson_catalog(): a published lesson with what it offers the caller (`access`). */
// postgres-meta types a function's columns as never null; access_changed_at is null unless the
// access names a moment (purchase, refund, dispute).
export type CatalogLesson = Omit<Functions["lesson_catalog"]["Returns"][number], "access_changed_at"> & {
  access_changed_at: string | null;
};

/** What a lesson offers the caller, as lesson_catalog() decides it: free, owned, processing, available. */
export type LessonAccess = Database["public"]["Enums"]["lesson_access"];

/** One row of purchase_list(): a payment on the Purchases page. */
// postgres-meta types a function's columns as never null; these are null until Stripe has
// reported a charge (method, receipt) or a refund, or before a PaymentIntent exists;
// refund_reason is null unless the shop itself refunded the payment (an early fraud warning).
type NullUntilReported =
  | "payment_method_type"
  | "payment_method_brand"
  | "payment_method_last4"
  | "payment_reference"
  | "refunded_amount"
  | "refunded_at"
  | "receipt_url"
  | "invoice_url"
  | "promotion_code"
  | "refund_reason";
type PurchaseListRow = Functions["purchase_list"]["Returns"][number];
export type PurchaseRow = Omit<PurchaseListRow, NullUntilReported> & {
  [Column in NullUntilReported]: PurchaseListRow[Column] | null;
};

/** What a lesson's page shows to anyone: its outline, estimated time, level, author and preview. */
export type LessonDetails = Pick<
  Tables<"lessons">,
  "outline" | "minutes" | "level" | "author" | "preview" | "cover_path" | "cover_alt"
>;

/** The gated part of a lesson, readable when RLS allows. */
export type LessonContent = Pick<Tables<"lesson_content">, "body">;

/** One of a lesson's media as lesson_media lists it (readable with the lesson's content). */
export type LessonMediaRow = Pick<
  Tables<"lesson_media">,
  "id" | "kind" | "title" | "object_path" | "captions_path" | "external_url" | "duration_seconds" | "page_count"
>;

/** Who is signed in, as much as pages need (serialisable for getServerSideProps). */
export type ShopUser = { id: string; email: string | null };

/** The JSON body of one of the sidecar's documented responses. */
type SidecarJson<Response> = Response extends { content: { "application/json": infer Body } } ? Body : never;

/** The sidecar's answer to POST /v1/checkout/sessions: a new (201) or reused (200) session. */
export type CheckoutSessionLink = SidecarJson<operations["createCheckoutSession"]["responses"][200 | 201]>;

/** The sidecar's answer to GET /v1/checkout/sessions/{id}: a session as it last synced it. */
export type CheckoutSessionState = SidecarJson<operations["getCheckoutSession"]["responses"][200]>;

/** The sidecar's error shape, which the API route answers in too. */
export type ErrorBody = components["schemas"]["ErrorBody"];
