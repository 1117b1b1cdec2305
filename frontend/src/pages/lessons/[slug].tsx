import Head from "next/head";
import Link from "next/link";
import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";

import { ErrorBoundary } from "@/components/ErrorBoundary";
import { ProblemNotice } from "@/components/ProblemNotice";
import { useBuy } from "@/components/useBuy";
import { formatPrice } from "@/lib/money";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import notice from "@/components/Notice.module.css";
import card from "@/components/LessonCard.module.css";
import styles from "@/styles/Page.module.css";
import type { CatalogLesson, LessonContent, ShopUser } from "@/types/shop";

type Props =
  | { user: ShopUser | null; loadFailed: false; lesson: CatalogLesson; content: LessonContent | null }
  | { user: ShopUser | null; loadFailed: true };

const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export const getServerSideProps: GetServerSideProps<Props, { slug: string }> = async ({ req, res, params }) => {
  const slug = params?.slug ?? "";
  if (!SLUG.test(slug) || slug.length > 100) return { notFound: true };
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  const { data: lesson, error } = await supabase.rpc("lesson_catalog").eq("slug", slug).maybeSingle();
  if (error) {
    console.error("lesson_catalog failed", error.code, error.message);
    return { props: { user, loadFailed: true } };
  }
  if (!lesson) return { notFound: true };
  // RLS decides: free lessons and lessons the learner owns (paid) come back; others do not.
  const { data: content, error: contentError } = await supabase
    .from("lesson_content")
    .select("body, media_url")
    .eq("lesson_id", lesson.id)
    .maybeSingle();
  if (contentError) {
    console.error("lesson_content failed", contentError.code, contentError.message);
    return { props: { user, loadFailed: true } };
  }
  return { props: { user, loadFailed: false, lesson, content } };
};

function Paywall({ lesson }: { lesson: CatalogLesson }) {
  const { buy, buying, problems, refresh } = useBuy();
  const problem = problems[lesson.id];
  return (
    <div className={styles.panel}>
      <div className={styles.paywall}>
        {lesson.pending ? (
          <p>
            <span className={card.pending}>Payment processing</span>. We&apos;ll unlock the lesson when the
            payment is confirmed.
          </p>
        ) : (
          <>
            <p>Buy this lesson to read it.</p>
            <button
              type="button"
              className={card.buy}
              disabled={buying !== null}
              aria-busy={buying !== null || undefined}
              onClick={() => void buy(lesson)}
            >
              {buying ? "Redirecting…" : "Buy"}
            </button>
          </>
        )}
      </div>
      {problem ? (
        <ProblemNotice
          problem={problem}
          returnTo={`/lessons/${lesson.slug}`}
          onRetry={() => void buy(lesson)}
          onRefresh={refresh}
        />
      ) : null}
    </div>
  );
}

export default function LessonPage(props: Props) {
  const router = useRouter();
  if (props.loadFailed) {
    return (
      <div role="alert" className={notice.alert}>
        <p>We couldn&apos;t load this lesson. Please try again.</p>
        <button type="button" className={notice.action} onClick={() => void router.replace(router.asPath)}>
          Try again
        </button>
      </div>
    );
  }
  const { lesson, content } = props;
  return (
    <>
      <Head>
        <title>{`${lesson.title} · Lesson shop`}</title>
      </Head>
      <p>
        <Link href="/lessons">← All lessons</Link>
      </p>
      <h1>{lesson.title}</h1>
      <p className={styles.lead}>
        {lesson.description} <strong>{formatPrice(lesson.price_cents, lesson.currency)}</strong>
        {lesson.owned ? <> · <span className={card.owned}>Owned</span></> : null}
      </p>
      <ErrorBoundary label="the lesson">
        {content ? (
          <article className={`${styles.panel} ${styles.reading}`} aria-label={lesson.title}>
            {content.body.split(/\n{2,}/).map((paragraph, index) => (
              <p key={index}>{paragraph}</p>
            ))}
            {content.media_url ? (
              <p>
                <a href={content.media_url} rel="noopener noreferrer">
                  Watch the video for this lesson
                </a>
              </p>
            ) : null}
          </article>
        ) : (
          <Paywall lesson={lesson} />
        )}
      </ErrorBoundary>
    </>
  );
}
