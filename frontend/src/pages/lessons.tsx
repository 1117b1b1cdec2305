import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";
import { useCallback, useMemo, useState } from "react";

import { CheckoutReturnSlot } from "@/components/CheckoutReturnSlot";
import { ErrorBoundary } from "@/components/ErrorBoundary";
import { LessonCard } from "@/components/LessonCard";
import { PageHead } from "@/components/PageHead";
import { useBuy } from "@/hooks/useBuy";
import { accessAfterReturn, checkoutReturnQuery, type CheckoutReturnQuery } from "@/lib/checkoutSession";
import { loadCatalog } from "@/lib/queries";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import styles from "@/styles/Page.module.css";
import notice from "@/components/Notice.module.css";
import type { CatalogLesson, CheckoutSessionState, ShopUser } from "@/types/shop";

type Props = {
  user: ShopUser | null;
  lessons: CatalogLesson[];
  loadFailed: boolean;
  checkout: CheckoutReturnQuery;
};

export const getServerSideProps: GetServerSideProps<Props> = async ({ req, res, query }) => {
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  const catalog = await loadCatalog(supabase);
  if (!catalog.ok) console.error("catalogue failed", catalog.reason);
  return {
    props: {
      user,
      lessons: catalog.ok ? catalog.value : [],
      loadFailed: !catalog.ok,
      checkout: checkoutReturnQuery(query),
    },
  };
};

export default function LessonsPage({ lessons: loaded, loadFailed, checkout }: Props) {
  const router = useRouter();
  const { buy, buying, problems, refresh } = useBuy();
  // What the return from Checkout learns about one lesson, over what the server rendered.
  const [updates, setUpdates] = useState<Record<string, Pick<CatalogLesson, "access">>>({});
  const lessons = useMemo(() => loaded.map((lesson) => ({ ...lesson, ...updates[lesson.id] })), [loaded, updates]);
  // Checkout now returns to the lesson's page; a session opened before that still returns here
  const lessonOf = useCallback((lessonId: string) => loaded.find((lesson) => lesson.id === lessonId) ?? null, [loaded]);
  const onSession = useCallback((session: CheckoutSessionState) => {
    setUpdates((all) => ({ ...all, [session.lesson_id]: { access: accessAfterReturn(session) } }));
  }, []);

  return (
    <>
      <PageHead title="Lessons" />
      <h1>Lessons</h1>
      <ErrorBoundary label="the checkout status">
        <CheckoutReturnSlot query={checkout} lessonOf={lessonOf} onSession={onSession} />
      </ErrorBoundary>
      {loadFailed ? (
        <div role="alert" className={notice.alert}>
          <p>We couldn&apos;t load the lessons. Please try again.</p>
          <button
            type="button"
            className={notice.action}
            onClick={() => void router.replace(router.asPath, undefined, { scroll: false })}
          >
            Try again
          </button>
        </div>
      ) : lessons.length === 0 ? (
        <p className={styles.muted}>No lessons are on sale yet.</p>
      ) : (
        <ErrorBoundary label="the lessons">
          <ul className={styles.grid}>
            {lessons.map((lesson) => (
              <li key={lesson.id}>
                <LessonCard
                  lesson={lesson}
                  buying={buying === lesson.id}
                  busy={buying !== null}
                  problem={problems[lesson.id] ?? null}
                  onBuy={buy}
                  onRefresh={refresh}
                />
              </li>
            ))}
          </ul>
        </ErrorBoundary>
      )}
    </>
  );
}
