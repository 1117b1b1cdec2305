import Head from "next/head";

export const SHOP_NAME = "Lesson shop";
export const SHOP_DESCRIPTION =
  "Short, practical lessons on SQL and Postgres. Buy a lesson once and read it whenever you like.";

type Props = {
  /** The page's own title; the shop's name is added after it. */
  title: string;
  /** What a search result or a link preview says about the page. */
  description?: string;
};

/** The page's title, meta description and link-preview (Open Graph) tags, one set per page. */
export function PageHead({ title, description = SHOP_DESCRIPTION }: Props) {
  const full = `${title} · ${SHOP_NAME}`;
  return (
    <Head>
      <title>{full}</title>
      <meta key="description" name="description" content={description} />
      <meta key="og:title" property="og:title" content={title} />
      <meta key="og:description" property="og:description" content={description} />
      <meta key="og:site_name" property="og:site_name" content={SHOP_NAME} />
      <meta key="og:type" property="og:type" content="website" />
    </Head>
  );
}
