// A lesson's media in the reader: video and audio with the browser's own controls (captions
// from a WebVTT file beside them), images with their title as alt text, PDFs as a download
// link, media at an outside address as a plain link. Signed URLs are short-lived: the reader
// asks /api/lesson_media for fresh ones before they run out and whenever a player fails (a URL
// that expired while the tab slept), and a player keeps its place and keeps playing across the
// swap. When the answer holds nothing (access ended: a refund, a dispute) the media go and the
// reader says so.
import { useCallback, useEffect, useRef, useState } from "react";

import { parseLessonMedia, refreshDelayMs, type LessonMedia as Media, type ReaderMedia } from "@/lib/media";
import styles from "@/components/LessonMedia.module.css";

type Props = { lessonId: string; initial: Media; ttlSeconds: number };

type Refresh = () => Promise<void>;

function Player({ item, onFailed }: { item: ReaderMedia; onFailed: Refresh }) {
  const element = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  // the server rendered the first URL; later ones are swapped in below, not by React, so that
  // the player's place can be read before the swap
  const [firstUrl] = useState(item.url);
  const resumeAt = useRef<{ time: number; playing: boolean } | null>(null);
  const failed = useRef(false);

  useEffect(() => {
    const media = element.current;
    if (!media || media.getAttribute("src") === item.url) return;
    resumeAt.current = { time: media.currentTime, playing: !media.paused && !media.ended };
    failed.current = false;
    media.src = item.url;
  }, [item.url]);

  const resume = () => {
    const media = element.current;
    const place = resumeAt.current;
    resumeAt.current = null;
    if (!media || !place || place.time === 0) return;
    media.currentTime = place.time;
    if (place.playing) void media.play().catch(() => undefined);
  };
  const onError = () => {
    // one refresh per URL: a fresh URL that fails too is not an expiry
    if (failed.current) return;
    failed.current = true;
    void onFailed();
  };

  const common = {
    ref: element,
    controls: true,
    preload: "metadata" as const,
    src: firstUrl,
    // captions come from another origin (Storage): the track is fetched with CORS
    crossOrigin: item.captionsUrl ? ("anonymous" as const) : undefined,
    onLoadedMetadata: resume,
    onError,
    "aria-label": item.title,
  };
  const track = item.captionsUrl ? (
    <track kind="captions" src={item.captionsUrl} srcLang="en" label="English" default />
  ) : null;
  return item.kind === "video" ? (
    <video {...common} className={styles.video} playsInline>
      {track}
    </video>
  ) : (
    <audio {...common} className={styles.audio}>
      {track}
    </audio>
  );
}

function describe(item: ReaderMedia): string | null {
  if (item.kind === "pdf" && item.pageCount) return `PDF, ${item.pageCount} ${item.pageCount === 1 ? "page" : "pages"}`;
  if (item.kind === "pdf") return "PDF";
  if (item.durationSeconds) {
    const minutes = Math.floor(item.durationSeconds / 60);
    const seconds = String(item.durationSeconds % 60).padStart(2, "0");
    return `${minutes}:${seconds}`;
  }
  return null;
}

function Item({ item, onFailed }: { item: ReaderMedia; onFailed: Refresh }) {
  const detail = describe(item);
  if (item.external) {
    return (
      <li className={styles.item}>
        <a href={item.url} rel="noopener noreferrer">
          {item.title}
        </a>{" "}
        <span className={styles.detail}>(on another site)</span>
      </li>
    );
  }
  if (item.kind === "pdf") {
    return (
      <li className={styles.item}>
        <a href={item.url} download>
          Download {item.title}
        </a>
        {detail ? <span className={styles.detail}> ({detail})</span> : null}
      </li>
    );
  }
  if (item.kind === "image") {
    return (
      <li className={styles.item}>
        {/* a signed Storage URL: next/image's optimiser would fetch and cache it past its expiry */}
        {/* eslint-disable-next-line @next/next/no-img-element */}
        <img src={item.url} alt={item.title} className={styles.image} onError={() => void onFailed()} />
      </li>
    );
  }
  return (
    <li className={styles.item}>
      <figure className={styles.figure}>
        <Player item={item} onFailed={onFailed} />
        <figcaption>
          {item.title}
          {detail ? <span className={styles.detail}> ({detail})</span> : null}
        </figcaption>
      </figure>
    </li>
  );
}

export function LessonMedia({ lessonId, initial, ttlSeconds }: Props) {
  const [media, setMedia] = useState(initial);
  const [ended, setEnded] = useState(false);
  const pending = useRef<Promise<void> | null>(null);
  const shown = useRef(initial.items.length);

  const refresh = useCallback((): Promise<void> => {
    // players failing together share one request
    if (pending.current) return pending.current;
    const request = (async () => {
      try {
        const response = await fetch(`/api/lesson_media?lesson_id=${encodeURIComponent(lessonId)}`, {
          headers: { Accept: "application/json" },
          cache: "no-store",
        });
        if (!response.ok) return; // try again at the next failure or timer
        const fresh = parseLessonMedia(await response.json());
        if (!fresh) return;
        if (shown.current > 0 && fresh.items.length === 0) setEnded(true);
        shown.current = fresh.items.length;
        setMedia(fresh);
      } catch {
        // offline for a moment: the next failure or timer asks again
      } finally {
        pending.current = null;
      }
    })();
    pending.current = request;
    return request;
  }, [lessonId]);

  useEffect(() => {
    if (media.expiresAt === null) return;
    const timer = window.setTimeout(() => void refresh(), refreshDelayMs(media.expiresAt, ttlSeconds));
    return () => window.clearTimeout(timer);
  }, [media.expiresAt, ttlSeconds, refresh]);

  if (ended) {
    return (
      <p role="status" className={styles.ended}>
        Your access to this lesson&apos;s media has ended.
      </p>
    );
  }
  if (media.items.length === 0) return null;
  return (
    <section aria-label="Lesson media" className={styles.media}>
      <ul className={styles.list}>
        {media.items.map((item) => (
          <Item key={item.id} item={item} onFailed={refresh} />
        ))}
      </ul>
    </section>
  );
}
