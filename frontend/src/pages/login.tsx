import Head from "next/head";

import { AuthForm } from "@/components/AuthForm";
import { sendSignedInOn } from "@/lib/signedIn";

export const getServerSideProps = sendSignedInOn;

export default function LoginPage() {
  return (
    <>
      <Head>
        <title>Sign in · Lesson shop</title>
      </Head>
      <AuthForm mode="sign-in" />
    </>
  );
}
