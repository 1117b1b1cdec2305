import "@/styles/globals.css";

import type { AppContext, AppProps } from "next/app";
import App from "next/app";
import Head from "next/head";

import { Layout } from "@/components/Layout";
import { SHOP_DESCRIPTION, SHOP_NAME } from "@/components/PageHead";
import { AuthProvider } from "@/context/AuthContext";
import { publicConfig, type PublicConfig } from "@/lib/config";
import type { ShopUser } from "@/types/shop";

type ShopAppProps = AppProps<{ user?: ShopUser | null }> & { config: PublicConfig | null };

export default function ShopApp({ Component, pageProps, config }: ShopAppProps) {
  return (
    <AuthProvider config={config} serverUser={pageProps.user}>
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

// The Supabase URL and anon key are read on the server at request time (not inlined at build),
// so one production build runs against any project. Client-side navigations reuse the config
// the first page came with (its __NEXT_DATA__).
let browserConfig: PublicConfig | null = null;

ShopApp.getInitialProps = async (context: AppContext) => {
  const props = await App.getInitialProps(context);
  if (typeof window === "undefined") return { ...props, config: publicConfig() };
  browserConfig ??= (window.__NEXT_DATA__.props as { config?: PublicConfig | null }).config ?? null;
  return { ...props, config: browserConfig };
};
