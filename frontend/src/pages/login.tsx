import Head from "next/head";

import { AuthForm } from "@/components/AuthForm";

// prerendered at build; AuthForm sends a signed-in learner on
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
