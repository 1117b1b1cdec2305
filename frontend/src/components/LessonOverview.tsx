import prose from "@/styles/Prose.module.css";
import type { LessonDetails } from "@/types/shop";
import styles from "./LessonReader.module.css";

const LEVELS: Record<string, string> = { beginner: "Beginner", intermediate: "Intermediate", advanced: "Advanced" };

/** "By Ada Lindqvist · Beginner · 25 min": what the lesson is, in one line (parts it lacks are left out). */
export function lessonFacts(details: LessonDetails): string {
  return [
    details.author ? `By ${details.author}` : null,
    details.level ? (LEVELS[details.level] ?? null) : null,
    details.minutes ? `${details.minutes} min` : null,
  ]
    .filter((part): part is string => part !== null)
    .join(" · ");
}

/** What a learner sees of a lesson before buying it: what it covers, and a free sample. */
export function LessonOverview({ details, previewHtml }: { details: LessonDetails; previewHtml: string | null }) {
  return (
    <div className={styles.reader}>
      {details.outline.length > 0 ? (
        <section aria-labelledby="outline" className={styles.contents}>
          <h2 id="outline" className={styles.contentsTitle}>
            What this lesson covers
          </h2>
          <ol>
            {details.outline.map((title, index) => (
              <li key={index}>{title}</li>
            ))}
          </ol>
        </section>
      ) : null}
      {previewHtml ? (
        <section aria-labelledby="preview" className={styles.body}>
          <h2 id="preview" className={styles.contentsTitle}>
            Free preview
          </h2>
          {/* lib/markdown's output: sanitised on the server */}
          <div className={prose.prose} dangerouslySetInnerHTML={{ __html: previewHtml }} />
        </section>
      ) : null}
    </div>
  );
}
