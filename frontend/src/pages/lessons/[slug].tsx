import Head from "next/head";
import Link from "next/link";
import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";

import { ErrorBoundary } from "@/components/ErrorBoundary";
import { LessonMedia } from "@/components/LessonMedia";
import { ProblemNotice } from "@/components/ProblemNotice";
import { useBuy } from "@/hooks/useBuy";
import { accessWords } from "@/lib/access";
import { mediaTtlSeconds, signLessonMedia, type LessonMedia as Media } from "@/lib/media";
import { formatPrice } from "@/lib/money";
import { loadLesson, loadLessonContent } from "@/lib/queries";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import notice from "@/components/Notice.module.css";
import card from "@/components/LessonCard.module.css";
import styles from "@/styles/Page.module.css";
import type { CatalogLesson, LessonContent, ShopUser } from "@/types/shop";

type Props =
  | {
      user: ShopUser | null;
      state: "found";
      lesson: CatalogLesson;
      content: LessonContent | null;
      media: Media;
      mediaTtlSeconds: number;
    }
  | { user: ShopUser | null; state: "missing" }
  | { user: ShopUser | null; state: "loadFailed" };

const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export const getServerSideProps: GetServerSideProps<Props, { slug: string }> = async ({ req, res, params }) => {
  const slug = params?.slug ?? "";
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  // Rendered here rather than as pages/404 so that the page can say it is a lesson that is missing.
  const missing = () => {
    // 404 for the document; a client-side navigation's data request must stay 200, or the
    // router takes it for a missing page and reloads the same URL
    const dataRequest = Boolean(req.headers["x-nextjs-data"]) || (req.url ?? "").startsWith("/_next/data/");
    if (!dataRequest) res.statusCode = 404;
    return { props: { user, state: "missing" as const } };
  };
  if (!SLUG.test(slug) || slug.length > 100) return missing();
  const found = await loadLesson(supabase, slug);
  if (!found.ok) {
    console.error("lesson failed", found.reason);
    return { props: { user, state: "loadFailed" as const } };
  }
  const lesson = found.value;
  if (!lesson) return missing();
  // RLS decides: free lessons and lessons the learner owns (paid) come back; others do not.
  const content = await loadLessonContent(supabase, lesson.id);
  if (!content.ok) {
    console.error("lesson content failed", content.reason);
    return { props: { user, state: "loadFailed" as const } };
  }
  // The media the learner may see, each file behind a signed URL minted now for a short TTL.
  const ttl = mediaTtlSeconds();
  let media: Media = { items: [], expiresAt: null };
  if (content.value) {
    const signed = await signLessonMedia(supabase, lesson.id, ttl);
    if (signed.ok) media = signed.value;
    else console.error("lesson media failed", signed.reason); // the text is still worth reading
  }
  return {
    props: { user, state: "found" as const, lesson, content: content.value, media, mediaTtlSeconds: ttl },
  };
};

function Paywall({ lesson }: { lesson: CatalogLesson }) {
  const { buy, buying, problems, refresh } = useBuy();
  const problem = problems[lesson.id];
  const words = accessWords(lesson);
  return (
    <div className={styles.panel}>
      <div className={styles.paywall}>
        {lesson.access === "processing" ? (
          <p>
            <span className={card.pending}>Payment processing</span>. We&apos;ll unlock the lesson when the payment is
            confirmed.
          </p>
        ) : words.buy === null ? (
          <p>{words.note}</p>
        ) : (
          <>
            <p>{words.note ?? "Buy this lesson to read it."}</p>
            <button
              type="button"
              className={card.buy}
              disabled={buying !== null}
              aria-busy={buying !== null || undefined}
              onClick={() => void buy(lesson)}
            >
              {buying ? "Redirecting…" : words.buy}
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
  if (props.state === "missing") {
    return (
      <>
        <Head>
          <title>Lesson not found · Lesson shop</title>
        </Head>
        <h1>Lesson not found</h1>
        <p>There is no lesson at this address.</p>
        <p>
          <Link href="/lessons">Back to lessons</Link>
        </p>
      </>
    );
  }
  if (props.state === "loadFailed") {
    return (
      <div role="alert" className={notice.alert}>
        <p>We couldn&apos;t load this lesson. Please try again.</p>
        <button type="button" className={notice.action} onClick={() => void router.replace(router.asPath)}>
          Try again
        </button>
      </div>
    );
  }
  const { lesson, content, media, mediaTtlSeconds: ttlSeconds } = props;
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
        {lesson.owned ? (
          <>
            {" "}
            · <span className={card.owned}>Owned</span>
          </>
        ) : null}
      </p>
      <ErrorBoundary label="the lesson">
        {content ? (
          <article className={`${styles.panel} ${styles.reading}`} aria-label={lesson.title}>
            {content.body.split(/\n{2,}/).map((paragraph, index) => (
              <p key={index}>{paragraph}</p>
            ))}
            <ErrorBoundary label="the lesson's media">
              <LessonMedia key={lesson.id} lessonId={lesson.id} initial={media} ttlSeconds={ttlSeconds} />
            </ErrorBoundary>
          </article>
        ) : (
          <Paywall lesson={lesson} />
        )}
      </ErrorBoundary>
    </>
  );
}
