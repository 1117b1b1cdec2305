import "@/styles/globals.css";

import type { AppProps } from "next/app";
import Head from "next/head";

import { Layout } from "@/components/Layout";
import { SHOP_DESCRIPTION, SHOP_NAME } from "@/components/PageHead";
import { AuthProvider } from "@/context/AuthContext";
import type { ShopUser } from "@/types/shop";

// No getInitialProps: pages without data of their own are prerendered at build. The browser's
// Supabase settings come from /api/runtime-config (pages/_document, lib/config.ts), not props.
export default function ShopApp({ Component, pageProps }: AppProps<{ user?: ShopUser | null }>) {
  return (
    <AuthProvider serverUser={pageProps.user}>
      <Head>
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{SHOP_NAME}</title>
        <meta key="description" name="description" content={SHOP_DESCRIPTION} />
      </Head>
      <Layout>
        <Component {...pageProps} />
      </Layout>
    </AuthProvider>
  );
}
