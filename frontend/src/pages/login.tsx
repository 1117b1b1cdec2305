import Head from "next/head";

import { AuthForm } from "@/components/AuthForm";

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
