import Head from "next/head";

import { AuthForm } from "@/components/AuthForm";

// prerendered at build; AuthForm sends a signed-in learner on
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
