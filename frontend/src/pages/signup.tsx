import Head from "next/head";

import { AuthForm } from "@/components/AuthForm";
import { sendSignedInOn } from "@/lib/signedIn";

export const getServerSideProps = sendSignedInOn;

export default function SignupPage() {
  return (
    <>
      <Head>
        <title>Create an account · Lesson shop</title>
      </Head>
      <AuthForm mode="sign-up" />
    </>
  );
}
