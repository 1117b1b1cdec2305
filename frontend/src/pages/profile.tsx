import Head from "next/head";
import Link from "next/link";
import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";

import { signInPath } from "@/lib/navigation";
import { purchaseView } from "@/lib/purchases";
import { loadPurchases } from "@/lib/queries";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import { ErrorBoundary } from "@/components/ErrorBoundary";
import notice from "@/components/Notice.module.css";
import { PurchaseList } from "@/components/PurchaseList";
import styles from "@/styles/Page.module.css";
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
        <>
          <p className={styles.lead}>
            Every payment you have made, newest first. To ask us about one, quote its reference.
          </p>
          <ErrorBoundary label="your purchases">
            <PurchaseList views={rows.map(purchaseView)} />
          </ErrorBoundary>
        </>
      )}
    </>
  );
}
