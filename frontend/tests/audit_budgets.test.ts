// The Lighthouse layer's verdict (scripts/budgets.mjs): `make test` (gate "steady") fails on
// first-visit JavaScript over budget as `make audit` does, and only reports timing scores.
import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { overBudget, type Budgets, type PageScores } from "../scripts/budgets.mjs";

const budgets = JSON.parse(readFileSync(new URL("../audit/budgets.json", import.meta.url), "utf8")) as Budgets;
const good: PageScores = {
  performance: 100,
  accessibility: 100,
  "best-practices": 100,
  seo: 100,
  cls: 0,
  failing_audits: [],
};

function run(page: Partial<PageScores>, firstVisitJs: number, gate: string) {
  return overBudget(
    { pages: { "/lessons": { mobile: { ...good, ...page } } }, first_visit_js_kb: firstVisitJs },
    budgets,
    gate,
  );
}

describe("audit budgets", () => {
  it("hold /lessons' first-visit JavaScript at 120 kB under either gate", () => {
    expect(budgets.first_visit_js_kb).toBe(120);
    for (const gate of ["steady", "all"]) {
      expect(run({}, 120, gate).held, gate).toEqual([]);
      expect(run({}, 120.1, gate).held, gate).toEqual(["/lessons first-visit JS 120.1 kB > 120 kB gzipped"]);
    }
  });

  it("fail on a size that was never measured", () => {
    expect(run({}, Number.NaN, "steady").held).toHaveLength(1);
  });

  it("only report a timing score under the steady gate, and hold it under make audit's", () => {
    expect(run({ performance: 80 }, 100, "steady")).toEqual({
      held: [],
      reported: ["/lessons mobile: performance 80 < 95"],
    });
    expect(run({ performance: 80 }, 100, "all").held).toEqual(["/lessons mobile: performance 80 < 95"]);
  });

  it("hold accessibility and layout shift under either gate", () => {
    expect(run({ accessibility: 90, failing_audits: ["color-contrast"] }, 100, "steady").held).toEqual([
      "/lessons mobile: accessibility 90 < 100 (color-contrast)",
    ]);
    expect(run({ cls: 0.02 }, 100, "steady").held).toEqual(["/lessons mobile: CLS 0.02 > 0"]);
  });
});
