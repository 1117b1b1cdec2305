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

type Props = { user: ShopUser; purchases: PurchaseRecord[]; loadFailed: boolean };

export const getServerSideProps: GetServerSideProps<Props> = async ({ req, res }) => {
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  if (!user) return { redirect: { destination: signInPath("/profile"), permanent: false } };
  const { data, error } = await supabase.rpc("purchase_history");
  if (error) console.error("purchase_history failed", error.code, error.message);
  return { props: { user, purchases: data ?? [], loadFailed: Boolean(error) } };
};

const STATUS_WORDS: Record<string, string> = {
  paid: "Paid",
  refunded: "Refunded",
  disputed: "Disputed",
  processing: "Processing",
};

const DATE = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: "UTC" });

export function statusWord(status: string): string {
  return STATUS_WORDS[status] ?? status.charAt(0).toUpperCase() + status.slice(1);
}

export default function ProfilePage({ purchases, loadFailed }: Props) {
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
      ) : purchases.length === 0 ? (
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
            {purchases.map((purchase) => (
              <tr key={purchase.lesson_id}>
                <td>
                  <Link href={`/lessons/${purchase.slug}`}>{purchase.title}</Link>
                </td>
                <td>
                  <time dateTime={purchase.purchased_at}>{DATE.format(new Date(purchase.purchased_at))}</time>
                </td>
                <td>{formatMoney(purchase.amount_total, purchase.currency)}</td>
                <td>{statusWord(purchase.status)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
