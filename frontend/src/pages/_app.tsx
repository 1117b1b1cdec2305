import "@/styles/globals.css";

import type { AppContext, AppProps } from "next/app";
import App from "next/app";
import Head from "next/head";
import { useState } from "react";

import { Layout } from "@/components/Layout";
import { AuthProvider } from "@/context/AuthContext";
import { publicConfig, type PublicConfig } from "@/lib/config";
import { createBrowserSupabase } from "@/lib/supabase";
import type { ShopUser } from "@/types/shop";

type ShopAppProps = AppProps<{ user?: ShopUser | null }> & { config: PublicConfig | null };

export default function ShopApp({ Component, pageProps, config }: ShopAppProps) {
  // Made once, on the first render in the browser, from the config the server sent with it.
  const [client] = useState(() => (config && typeof window !== "undefined" ? createBrowserSupabase(config) : null));
  return (
    <AuthProvider client={client} initialUser={pageProps.user ?? null}>
      <Head>
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Lesson shop</title>
      </Head>
      <Layout>
        <Component {...pageProps} />
      </Layout>
    </AuthProvider>
  );
}

// The Supabase URL and anon key are read on the server at request time (not inlined at build),
// so one production build runs against any project. Client-side navigations keep the first.
ShopApp.getInitialProps = async (context: AppContext) => {
  const props = await App.getInitialProps(context);
  return { ...props, config: typeof window === "undefined" ? publicConfig() : null };
};
