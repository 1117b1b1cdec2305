import Link from "next/link";
import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";
import { useCallback, useState } from "react";

import { CheckoutReturnSlot } from "@/components/CheckoutReturnSlot";
import { ErrorBoundary } from "@/components/ErrorBoundary";
import { AccessFooter } from "@/components/LessonCard";
import { LessonMedia } from "@/components/LessonMedia";
import { LessonOverview, lessonFacts } from "@/components/LessonOverview";
import { LessonReader, type Neighbour } from "@/components/LessonReader";
import { PageHead } from "@/components/PageHead";
import { ProblemNotice } from "@/components/ProblemNotice";
import { useBuy } from "@/hooks/useBuy";
import { accessWords } from "@/lib/access";
import { accessAfterReturn, checkoutReturnQuery, type CheckoutReturnQuery } from "@/lib/checkoutSession";
import { publicConfig } from "@/lib/config";
import { COVER_HEIGHT, COVER_WIDTH, coverOf, type Cover } from "@/lib/covers";
import { renderDocument, renderMarkdown, type Rendered } from "@/lib/markdown";
import { mediaTtlSeconds, signLessonMedia, type LessonMedia as Media } from "@/lib/media";
import { formatPrice } from "@/lib/money";
import { loadCatalog, loadLesson, loadLessonContent, loadLessonDetails, loadProgress } from "@/lib/queries";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import notice from "@/components/Notice.module.css";
import card from "@/components/LessonCard.module.css";
import styles from "@/styles/Page.module.css";
import type { CatalogLesson, CheckoutSessionState, LessonDetails, ShopUser } from "@/types/shop";

type Props =
  | {
      user: ShopUser | null;
      state: "found";
      lesson: CatalogLesson;
      details: LessonDetails;
      cover: Cover | null;
      /** The body, rendered on the server, when RLS lets the caller read it. */
      body: Rendered | null;
      previewHtml: string | null;
      progress: string | null;
      previous: Neighbour;
      next: Neighbour;
      media: Media;
      mediaTtlSeconds: number;
      /** Back from Checkout: the sidecar's success and cancel URLs lead to the lesson's page. */
      checkout: CheckoutReturnQuery;
    }
  | { user: ShopUser | null; state: "missing" }
  | { user: ShopUser | null; state: "loadFailed" };

const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export const getServerSideProps: GetServerSideProps<Props, { slug: string }> = async ({ req, res, params, query }) => {
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
  const details = await loadLessonDetails(supabase, lesson.id);
  if (!details.ok || !details.value) {
    console.error("lesson details failed", details.ok ? "no row" : details.reason);
    return { props: { user, state: "loadFailed" as const } };
  }
  const body = content.value ? renderDocument(content.value.body) : null;
  const previewHtml = !body && details.value.preview ? renderMarkdown(details.value.preview) : null;
  let progress: string | null = null;
  let previous: Neighbour = null;
  let next: Neighbour = null;
  if (body && user) {
    const [reached, catalog] = await Promise.all([loadProgress(supabase, lesson.id), loadCatalog(supabase)]);
    if (reached.ok) progress = reached.value;
    else console.error("progress failed", reached.reason); // the lesson still reads
    if (catalog.ok) ({ previous, next } = neighbours(catalog.value, lesson.id));
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
    props: {
      user,
      state: "found" as const,
      lesson,
      details: details.value,
      cover: coverOf(publicConfig().supabaseUrl, details.value),
      body,
      previewHtml,
      progress,
      previous,
      next,
      media,
      mediaTtlSeconds: ttl,
      checkout: checkoutReturnQuery(query),
    },
  };
};

/** The lessons before and after this one among those the learner may read, in catalogue order. */
function neighbours(catalog: CatalogLesson[], lessonId: string): { previous: Neighbour; next: Neighbour } {
  const readable = catalog.filter((l) => l.access === "free" || l.access === "owned" || l.id === lessonId);
  const at = readable.findIndex((l) => l.id === lessonId);
  const pick = (l: CatalogLesson | undefined): Neighbour => (l ? { slug: l.slug, title: l.title } : null);
  return { previous: at > 0 ? pick(readable[at - 1]) : null, next: at >= 0 ? pick(readable[at + 1]) : null };
}

// Why the lesson is not readable (in lesson_catalog()'s words), then the price and the way forward.
function Paywall({ lesson }: { lesson: CatalogLesson }) {
  const { buy, buying, problems, refresh } = useBuy();
  const problem = problems[lesson.id];
  const words = accessWords(lesson);
  const note = words.note ?? (words.buy ? "Buy this lesson to read it." : null);
  return (
    <div className={styles.panel}>
      {note ? <p className={styles.stateNote}>{note}</p> : null}
      <AccessFooter
        lesson={lesson}
        buying={buying === lesson.id}
        busy={buying !== null}
        onBuy={(l) => void buy(l)}
        namedAction
      />
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
        <PageHead title="Lesson not found" />
        <h1>Lesson not found</h1>
        <p>There is no lesson at this address.</p>
        <p>
          <Link href="/lessons" className={styles.back}>
            Back to lessons
          </Link>
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
  return <FoundLesson {...props} />;
}

function FoundLesson({
  lesson: loaded,
  details,
  cover,
  body,
  previewHtml,
  progress,
  previous,
  next,
  media,
  mediaTtlSeconds: ttlSeconds,
  checkout,
  user,
}: Extract<Props, { state: "found" }>) {
  // what the return from Checkout learns about this lesson, over what the server rendered
  const [returned, setReturned] = useState<Pick<CatalogLesson, "access"> | null>(null);
  const lesson = returned ? { ...loaded, ...returned } : loaded;
  const lessonOf = useCallback(
    (lessonId: string) => (lessonId === loaded.id ? { title: loaded.title, slug: loaded.slug } : null),
    [loaded],
  );
  const onSession = useCallback(
    (session: CheckoutSessionState) => {
      if (session.lesson_id === loaded.id) setReturned({ access: accessAfterReturn(session) });
    },
    [loaded.id],
  );
  const facts = lessonFacts(details);
  return (
    <>
      <PageHead title={lesson.title} description={lesson.description} image={cover} />
      <p>
        <Link href="/lessons" className={styles.back}>
          ← All lessons
        </Link>
      </p>
      <h1>{lesson.title}</h1>
      {cover ? (
        // eslint-disable-next-line @next/next/no-img-element -- a fixed-size file from Storage: next/image's loader adds nothing
        <img
          className={styles.cover}
          src={cover.url}
          alt={cover.alt}
          width={COVER_WIDTH}
          height={COVER_HEIGHT}
          fetchPriority="high"
        />
      ) : null}
      <p className={styles.lead}>
        {lesson.description}
        {body ? (
          <>
            {" "}
            <strong>{formatPrice(lesson.price_cents, lesson.currency)}</strong>
            {lesson.access === "owned" ? (
              <>
                {" "}
                · <span className={card.owned}>Owned</span>
              </>
            ) : null}
          </>
        ) : null}
      </p>
      {facts ? <p className={styles.facts}>{facts}</p> : null}
      <ErrorBoundary label="the checkout status">
        <CheckoutReturnSlot
          query={checkout}
          lessonOf={lessonOf}
          onSession={onSession}
          returnTo={`/lessons/${loaded.slug}`}
        />
      </ErrorBoundary>
      <ErrorBoundary label="the lesson">
        {body ? (
          <LessonReader
            lessonId={lesson.id}
            title={lesson.title}
            html={body.html}
            sections={body.sections}
            progress={progress}
            signedIn={user !== null}
            previous={previous}
            next={next}
          >
            <ErrorBoundary label="the lesson's media">
              <LessonMedia key={lesson.id} lessonId={lesson.id} initial={media} ttlSeconds={ttlSeconds} />
            </ErrorBoundary>
          </LessonReader>
        ) : (
          <div className={styles.stack}>
            <Paywall lesson={lesson} />
            <LessonOverview details={details} previewHtml={previewHtml} />
          </div>
        )}
      </ErrorBoundary>
    </>
  );
}
