import Head from "next/head";
import Link from "next/link";
import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";

import { formatMoney } from "@/lib/money";
import { signInPath } from "@/lib/navigation";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import notice from "@/components/Notice.module.css";
import styles from "@/styles/Page.module.css";
import type { PurchaseRecord, ShopUser } from "@/types/shop";

/** One line of the history: a purchase, or a payment still processing (a delayed method). */
type HistoryRow = Pick<PurchaseRecord, "slug" | "title" | "amount_total" | "currency" | "status"> & {
  key: string;
  date: string;
};

type Props = { user: ShopUser; rows: HistoryRow[]; loadFailed: boolean };

export const getServerSideProps: GetServerSideProps<Props> = async ({ req, res }) => {
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  if (!user) return { redirect: { destination: signInPath("/profile"), permanent: false } };
  const [history, processing] = await Promise.all([
    supabase.rpc("purchase_history"),
    supabase
      .from("checkout_sessions")
      .select("id, amount_total, currency, created_at, lessons(slug, title)")
      .eq("status", "processing")
      .order("created_at", { ascending: false }),
  ]);
  if (history.error || processing.error) {
    const error = history.error ?? processing.error;
    console.error("purchase history failed", error?.code, error?.message);
    return { props: { user, rows: [], loadFailed: true } };
  }
  const rows: HistoryRow[] = [
    ...processing.data.map((session) => ({
      key: session.id,
      slug: session.lessons.slug,
      title: session.lessons.title,
      amount_total: session.amount_total,
      currency: session.currency,
      status: "processing",
      date: session.created_at,
    })),
    ...history.data.map((purchase) => ({
      key: purchase.lesson_id,
      slug: purchase.slug,
      title: purchase.title,
      amount_total: purchase.amount_total,
      currency: purchase.currency,
      status: purchase.status,
      date: purchase.purchased_at,
    })),
  ];
  return { props: { user, rows, loadFailed: false } };
};

const STATUS_WORDS: Record<string, string> = {
  paid: "Paid",
  refunded: "Refunded",
  disputed: "Disputed",
  processing: "Processing",
};

const DATE = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: "UTC" });

function statusWord(status: string): string {
  return STATUS_WORDS[status] ?? status.charAt(0).toUpperCase() + status.slice(1);
}

export default function ProfilePage({ rows, loadFailed }: Props) {
  const router = useRouter();
  return (
    <>
      <Head>
        <title>Your purchases · Lesson shop</title>
      </Head>
      <h1>Your purchases</h1>
      {loadFailed ? (
        <div role="alert" className={notice.alert}>
          <p>We couldn&apos;t load your purchases. Please try again.</p>
          <button type="button" className={notice.action} onClick={() => void router.replace(router.asPath)}>
            Try again
          </button>
        </div>
      ) : rows.length === 0 ? (
        <p>
          You haven&apos;t bought any lessons yet. <Link href="/lessons">Browse lessons</Link>
        </p>
      ) : (
        <table className={styles.table}>
          <caption className={styles.muted} style={{ textAlign: "left", paddingBottom: "0.5rem" }}>
            Newest first
          </caption>
          <thead>
            <tr>
              <th scope="col">Lesson</th>
              <th scope="col">Date</th>
              <th scope="col">Amount</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key}>
                <td>
                  <Link href={`/lessons/${row.slug}`}>{row.title}</Link>
                </td>
                <td>
                  <time dateTime={row.date}>{DATE.format(new Date(row.date))}</time>
                </td>
                <td>{formatMoney(row.amount_total, row.currency)}</td>
                <td>{statusWord(row.status)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
