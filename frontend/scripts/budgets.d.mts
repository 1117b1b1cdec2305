export type PageScores = {
  performance: number;
  accessibility: number;
  "best-practices": number;
  seo: number;
  cls: number;
  failing_audits: string[];
};
export type AuditResults = { pages: Record<string, Record<string, PageScores>>; first_visit_js_kb: number };
export type Budgets = {
  performance: Record<string, number>;
  accessibility: number;
  "best-practices": number;
  seo: number;
  cls: number;
  first_visit_js_kb: number;
};
export function overBudget(
  results: AuditResults,
  budgets: Budgets,
  gate?: string,
): { held: string[]; reported: string[] };
