// The sign-in, sign-up and forgot-password pages are for learners who are signed out: a
// signed-in learner is sent on to where they were going (`?next=`, else the catalogue).
import type { GetServerSideProps } from "next";

import { safeNext } from "@/lib/navigation";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import type { ShopUser } from "@/types/shop";

export const sendSignedInOn: GetServerSideProps<{ user: ShopUser | null }> = async ({ req, res, query }) => {
  const user = await currentUser(createServerSupabase(req, res));
  if (user) return { redirect: { destination: safeNext(query.next), permanent: false } };
  return { props: { user: null } };
};
