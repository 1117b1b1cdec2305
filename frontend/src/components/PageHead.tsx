import Head from "next/head";

import { COVER_HEIGHT, COVER_WIDTH, type Cover } from "@/lib/covers";

export const SHOP_NAME = "Lesson shop";
export const SHOP_DESCRIPTION =
  "Short, practical lessons on SQL and Postgres. Buy a lesson once and read it whenever you like.";

type Props = {
  /** The page's own title; the shop's name is added after it. */
  title: string;
  /** What a search result or a link preview says about the page. */
  description?: string;
  /** The picture a link preview shows (an absolute URL): a lesson's cover. */
  image?: Cover | null;
};

/** The page's title, meta description and link-preview (Open Graph) tags, one set per page. */
export function PageHead({ title, description = SHOP_DESCRIPTION, image = null }: Props) {
  const full = `${title} · ${SHOP_NAME}`;
  return (
    <Head>
      <title>{full}</title>
      <meta key="description" name="description" content={description} />
      <meta key="og:title" property="og:title" content={title} />
      <meta key="og:description" property="og:description" content={description} />
      <meta key="og:site_name" property="og:site_name" content={SHOP_NAME} />
      <meta key="og:type" property="og:type" content="website" />
      {image ? <meta key="og:image" property="og:image" content={image.url} /> : null}
      {image ? <meta key="og:image:width" property="og:image:width" content={String(COVER_WIDTH)} /> : null}
      {image ? <meta key="og:image:height" property="og:image:height" content={String(COVER_HEIGHT)} /> : null}
      {image ? <meta key="og:image:alt" property="og:image:alt" content={image.alt} /> : null}
      {image ? <meta key="twitter:card" name="twitter:card" content="summary_large_image" /> : null}
    </Head>
  );
}
