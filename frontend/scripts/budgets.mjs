// Which of audit/budgets.json a Lighthouse run broke. `held` fails the run; `reported` is printed
// only. Accessibility, best practices, SEO, layout shift and the first-visit JavaScript (a
// property of the build, not of a noisy machine) are always held; the performance scores
// (timings) only by `make audit` (gate "all"), not by `make test` (gate "steady").

/** {held, reported}: one line per budget broken. */
export function overBudget(results, budgets, gate = "all") {
  const held = [];
  const reported = [];
  const timing = gate === "all" ? held : reported;
  for (const [page, byForm] of Object.entries(results.pages)) {
    for (const [form, r] of Object.entries(byForm)) {
      const perf = budgets.performance[form];
      if (r.performance < perf) timing.push(`${page} ${form}: performance ${r.performance} < ${perf}`);
      for (const id of ["accessibility", "best-practices", "seo"]) {
        if (r[id] < budgets[id])
          held.push(`${page} ${form}: ${id} ${r[id]} < ${budgets[id]} (${r.failing_audits.join(", ")})`);
      }
      if (r.cls > budgets.cls) held.push(`${page} ${form}: CLS ${r.cls} > ${budgets.cls}`);
    }
  }
  if (!(results.first_visit_js_kb <= budgets.first_visit_js_kb)) {
    held.push(`/lessons first-visit JS ${results.first_visit_js_kb} kB > ${budgets.first_visit_js_kb} kB gzipped`);
  }
  return { held, reported };
}
