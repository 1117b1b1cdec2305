import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";
import { useCallback, useMemo, useState } from "react";

import { CheckoutReturnSlot } from "@/components/CheckoutReturnSlot";
import { ErrorBoundary } from "@/components/ErrorBoundary";
import { LessonCard } from "@/components/LessonCard";
import { PageHead } from "@/components/PageHead";
import { useBuy } from "@/hooks/useBuy";
import { accessAfterReturn, checkoutReturnQuery, type CheckoutReturnQuery } from "@/lib/checkoutSession";
import { publicConfig } from "@/lib/config";
import { coverOf, type Cover } from "@/lib/covers";
import { loadCatalog, loadCovers } from "@/lib/queries";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import styles from "@/styles/Page.module.css";
import notice from "@/components/Notice.module.css";
import type { CatalogLesson, CheckoutSessionState, ShopUser } from "@/types/shop";

type Props = {
  user: ShopUser | null;
  lessons: CatalogLesson[];
  /** Each lesson's cover by lesson id (lessons without one are absent). */
  covers: Record<string, Cover>;
  loadFailed: boolean;
  checkout: CheckoutReturnQuery;
};

export const getServerSideProps: GetServerSideProps<Props> = async ({ req, res, query }) => {
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  const [catalog, found] = await Promise.all([loadCatalog(supabase), loadCovers(supabase)]);
  if (!catalog.ok) console.error("catalogue failed", catalog.reason);
  // a cover that did not load leaves a card without its picture, nothing more
  if (!found.ok) console.error("covers failed", found.reason);
  const covers: Record<string, Cover> = {};
  const { supabaseUrl } = publicConfig();
  for (const [id, columns] of found.ok ? found.value : []) {
    const cover = coverOf(supabaseUrl, columns);
    if (cover) covers[id] = cover;
  }
  return {
    props: {
      user,
      lessons: catalog.ok ? catalog.value : [],
      covers,
      loadFailed: !catalog.ok,
      checkout: checkoutReturnQuery(query),
    },
  };
};

export default function LessonsPage({ lessons: loaded, covers, loadFailed, checkout }: Props) {
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
            {lessons.map((lesson, index) => (
              <li key={lesson.id}>
                <LessonCard
                  lesson={lesson}
                  cover={covers[lesson.id] ?? null}
                  // the first row's covers are in the first screen; the rest load as they near it
                  coverLoading={index < 2 ? "eager" : "lazy"}
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
