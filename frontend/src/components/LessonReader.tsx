import Link from "next/link";
import { useEffect, useRef } from "react";

import type { Section } from "@/lib/markdown";
import prose from "@/styles/Prose.module.css";
import styles from "./LessonReader.module.css";

export type Neighbour = { slug: string; title: string } | null;

type Props = {
  lessonId: string;
  title: string;
  /** The body as safe HTML (lib/markdown on the server) and its h2 sections. */
  html: string;
  sections: Section[];
  /** The section the learner last reached (null: none yet, or signed out). */
  progress: string | null;
  signedIn: boolean;
  previous: Neighbour;
  next: Neighbour;
  children?: React.ReactNode;
};

const SAVE_AFTER_MS = 1200;

/** Record the last section whose heading the learner scrolled past (signed-in learners only). */
function useRecordProgress(lessonId: string, sections: Section[], initial: string | null, enabled: boolean) {
  const saved = useRef(initial);
  useEffect(() => {
    if (!enabled || sections.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let frame = 0;
    const save = (section: string) => {
      void fetch("/api/progress", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ lesson_id: lessonId, section }),
        keepalive: true,
      })
        .then((answer) => {
          if (answer.ok) saved.current = section;
        })
        .catch(() => undefined); // the next scroll tries again
    };
    const reached = (): string | null => {
      let last: string | null = null;
      for (const { id } of sections) {
        const heading = document.getElementById(id);
        if (heading && heading.getBoundingClientRect().top < window.innerHeight / 3) last = id;
      }
      return last;
    };
    const onScroll = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const section = reached();
        if (section === null || section === saved.current) return;
        clearTimeout(timer);
        timer = setTimeout(() => save(section), SAVE_AFTER_MS);
      });
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    return () => {
      window.removeEventListener("scroll", onScroll);
      cancelAnimationFrame(frame);
      clearTimeout(timer);
    };
  }, [lessonId, sections, enabled]);
}

/** A lesson the learner may read: contents, where they stopped, the body, its media, and what comes next. */
export function LessonReader({ lessonId, title, html, sections, progress, signedIn, previous, next, children }: Props) {
  useRecordProgress(lessonId, sections, progress, signedIn);
  // offered only past the first section: at the top there is nowhere to go back to
  const reached = sections.findIndex((s) => s.id === progress);
  const resume = reached > 0 ? sections[reached] : null;
  return (
    <div className={styles.reader}>
      {sections.length > 0 ? (
        <nav aria-label="Contents" className={styles.contents}>
          <h2 className={styles.contentsTitle}>Contents</h2>
          {resume ? (
            <p className={styles.resume}>
              <a href={`#${resume.id}`}>Continue where you stopped: {resume.title}</a>
            </p>
          ) : null}
          <ol>
            {sections.map((section) => (
              <li key={section.id}>
                <a href={`#${section.id}`}>{section.title}</a>
              </li>
            ))}
          </ol>
        </nav>
      ) : null}
      <article className={styles.body} aria-label={title}>
        {/* lib/markdown's output: sanitised on the server, no raw HTML from the database survives */}
        <div className={prose.prose} dangerouslySetInnerHTML={{ __html: html }} />
        {children}
      </article>
      {previous || next ? (
        <nav aria-label="Your other lessons" className={styles.neighbours}>
          {previous ? (
            <Link href={`/lessons/${previous.slug}`} rel="prev">
              <span className={styles.direction}>Previous</span> {previous.title}
            </Link>
          ) : (
            <span />
          )}
          {next ? (
            <Link href={`/lessons/${next.slug}`} rel="next">
              <span className={styles.direction}>Next</span> {next.title}
            </Link>
          ) : null}
        </nav>
      ) : null}
    </div>
  );
}
