import Head from "next/head";
import Link from "next/link";
import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";

import { formatDay } from "@/lib/dates";
import { formatMoney } from "@/lib/money";
import { signInPath } from "@/lib/navigation";
import { loadPurchases } from "@/lib/queries";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import notice from "@/components/Notice.module.css";
import styles from "@/styles/Page.module.css";
import type { Database } from "@/types/database";
import type { PurchaseRow, ShopUser } from "@/types/shop";

type Props = { user: ShopUser; rows: PurchaseRow[]; loadFailed: boolean };

export const getServerSideProps: GetServerSideProps<Props> = async ({ req, res }) => {
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  if (!user) return { redirect: { destination: signInPath("/profile"), permanent: false } };
  const purchases = await loadPurchases(supabase);
  if (!purchases.ok) {
    console.error("purchase history failed", purchases.reason);
    return { props: { user, rows: [], loadFailed: true } };
  }
  return { props: { user, rows: purchases.value, loadFailed: false } };
};

// What a promotion code took off, in the learner's words: "Free with code X" when it took
// everything, else "$3.00 off with code X" (purchase_list() gives the amounts and the code).
function discountWords(row: PurchaseRow): string {
  const code = row.promotion_code ? ` with code ${row.promotion_code}` : " with a code";
  if (row.amount_total === 0) return `Free${code}`;
  return `${formatMoney(row.amount_discount, row.currency)} off${code}`;
}

// purchase_list() decides each payment's state; these are its words.
const STATUS_WORDS: Record<Database["public"]["Enums"]["payment_state"], string> = {
  processing: "Processing",
  paid: "Paid",
  failed: "Failed (not charged)",
  refunded: "Refunded",
  partly_refunded: "Partly refunded",
  disputed: "Disputed",
  dispute_won: "Dispute won",
  dispute_lost: "Dispute lost",
};

function statusWord(status: string): string {
  return STATUS_WORDS[status as keyof typeof STATUS_WORDS] ?? status;
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
          <caption className={`${styles.muted} ${styles.caption}`}>Newest first</caption>
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
              <tr key={row.id}>
                <td>
                  <Link href={`/lessons/${row.slug}`}>{row.title}</Link>
                </td>
                <td>
                  <time dateTime={row.occurred_at}>{formatDay(row.occurred_at)}</time>
                </td>
                <td>
                  {formatMoney(row.amount_total, row.currency)}
                  {row.amount_discount ? <small className={styles.muted}> {discountWords(row)}</small> : null}
                </td>
                <td>{statusWord(row.status)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
