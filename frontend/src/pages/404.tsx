import Head from "next/head";
import Link from "next/link";

export default function NotFound() {
  return (
    <>
      <Head>
        <title>Page not found · Lesson shop</title>
      </Head>
      <h1>Page not found</h1>
      <p>There is nothing at this address.</p>
      <p>
        <Link href="/lessons">Back to lessons</Link>
      </p>
    </>
  );
}
