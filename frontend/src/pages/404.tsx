import Head from "next/head";
import Link from "next/link";
import { useRouter } from "next/router";

export default function NotFound() {
  const { asPath } = useRouter();
  const lesson = asPath.startsWith("/lessons/");
  return (
    <>
      <Head>
        <title>Not found · Lesson shop</title>
      </Head>
      <h1>{lesson ? "Lesson not found" : "Page not found"}</h1>
      <p>{lesson ? "There is no lesson at this address." : "There is nothing at this address."}</p>
      <p>
        <Link href="/lessons">Back to lessons</Link>
      </p>
    </>
  );
}
