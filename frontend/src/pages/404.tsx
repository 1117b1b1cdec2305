import Link from "next/link";

import { PageHead } from "@/components/PageHead";
import styles from "@/styles/Page.module.css";

export default function NotFound() {
  return (
    <>
      <PageHead title="Page not found" />
      <h1>Page not found</h1>
      <p>There is nothing at this address.</p>
      <p>
        <Link href="/lessons" className={styles.back}>
          Back to lessons
        </Link>
      </p>
    </>
  );
}
