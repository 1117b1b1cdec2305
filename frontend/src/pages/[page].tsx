import type { GetStaticPaths, GetStaticProps } from "next";

import { PageHead } from "@/components/PageHead";
import { shopPageHtml } from "@/lib/content";
import { SHOP_PAGES, isShopPage, type ShopPage } from "@/lib/shopPages";
import prose from "@/styles/Prose.module.css";

type Props = { page: ShopPage; html: string };

// Terms, privacy, refunds and contact: content/<page>.md, rendered at build (they change with
// a deploy, like the code). Any other one-segment address is the 404 page.
export const getStaticPaths: GetStaticPaths = () => ({
  paths: Object.keys(SHOP_PAGES).map((page) => ({ params: { page } })),
  fallback: false,
});

export const getStaticProps: GetStaticProps<Props> = async ({ params }) => {
  const page = params?.page;
  if (!isShopPage(page)) return { notFound: true };
  return { props: { page, html: await shopPageHtml(page) } };
};

export default function ShopPageView({ page, html }: Props) {
  const { title, description } = SHOP_PAGES[page];
  return (
    <>
      <PageHead title={title} description={description} />
      {/* renderMarkdown's output: sanitised, no raw HTML from the source survives */}
      <article className={prose.prose} dangerouslySetInnerHTML={{ __html: html }} />
    </>
  );
}
