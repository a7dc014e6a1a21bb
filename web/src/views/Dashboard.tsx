import { useEffect, useRef, useState } from "preact/hooks";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { dayRange, fromDayInput } from "../dates";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { pipelines } from "../api";
import type { Problem } from "../errors";
import type {
  ForecastPeriod,
  GetPipelineAnalyticsResponse,
  GetRevenueForecastResponse,
  GetTeamAnalyticsResponse,
} from "../gen/crm/sales/v1/pipelines_pb";
import type { Money } from "../gen/google/type/money_pb";
import { formatMoney } from "../money";
import { PipelineChooser } from "./PipelineChooser";
import { DealsOf } from "./DealsOf";
import { usePeople, usePipelines } from "./pipelines";
import { locale, t } from "../i18n";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

type Props = {
  onError: (err: unknown) => Problem;
  /** The signed-in user's id: "my pipeline". */
  me: string;
  /** Whether they may read every opportunity (else the figures are their own only). */
  readAll: boolean;
};

const value = (m: Money | undefined) => (m ? Number(m.units) + m.nanos / 1e9 : 0);

/**
 * Pipeline analytics (now, or as of a past day; everyone's, one's own or a rep's; for deals
 * created in a range of days), the revenue forecast as charts, and the figures per rep.
 */
export function Dashboard({ onError, me, readAll }: Props) {
  const [analytics, setAnalytics] = useState<GetPipelineAnalyticsResponse>();
  const [forecast, setForecast] = useState<GetRevenueForecastResponse>();
  const [team, setTeam] = useState<GetTeamAnalyticsResponse>();
  const [asOf, setAsOf] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  // Whose deals: "" everyone's; one who reads only their own sees their own.
  const [whose, setWhose] = useState(readAll ? "" : me);
  const [problem, setProblem] = useState<Problem>();
  const fail = (err: unknown) => setProblem(onError(err));
  const { all, chosen, choose } = usePipelines(fail);
  const people = usePeople(() => {});
  const nameOf = (id: string) =>
    id === me ? t("You") : (people.find((u) => u.id === id)?.displayName ?? (id ? t("Someone") : t("Nobody")));

  useEffect(() => {
    if (!chosen) return;
    let current = true;
    (async () => {
      try {
        const day = fromDayInput(asOf, "end");
        const range = dayRange(from, to);
        const [a, f, tm] = await Promise.all([
          pipelines.getPipelineAnalytics({ id: chosen.id, asOf: day, ownerId: whose, ...range }),
          pipelines.getRevenueForecast({ id: chosen.id, months: 6, ownerId: whose }),
          pipelines.getTeamAnalytics({ id: chosen.id, ...range }),
        ]);
        // A slower answer for an earlier choice never overwrites a newer one.
        if (!current) return;
        setAnalytics(a);
        setForecast(f);
        setTeam(tm);
        setProblem(undefined);
      } catch (err) {
        if (current) setProblem(onError(err));
      }
    })();
    return () => {
      current = false;
    };
  }, [asOf, from, to, whose, chosen?.id]);

  const stages = analytics?.stages ?? [];
  const periods = forecast?.periods ?? [];
  // A period is a month of the tenant's calendar: its middle names it in any time zone.
  const month = (p: (typeof periods)[number]) => {
    if (!p.startTime || !p.endTime) return "";
    const middle = (timestampDate(p.startTime).getTime() + timestampDate(p.endTime).getTime()) / 2;
    return new Date(middle).toLocaleDateString(locale(), { month: "short", year: "numeric" });
  };

  return (
    <section aria-labelledby="dashboard-title">
      <div class="section-head">
        <h1 id="dashboard-title">{t("Dashboard")}{chosen && all.length > 1 ? `: ${chosen.name}` : ""}</h1>
        <PipelineChooser all={all} chosen={chosen} choose={choose} />
        {readAll ? (
          <DealsOf whose={whose} me={me} people={people} choose={setWhose} />
        ) : (
          <p class="hint">{t("Your deals")}</p>
        )}
        <span class="range" role="group" aria-label={t("Deals created")}>
        <label class="inline">
          {t("Created from")}{" "}
          <input type="date" value={from} max={to || undefined} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
        </label>
        <label class="inline">
          {t("to")} <input type="date" value={to} min={from || undefined} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        </label>
        {(from || to) && (
          <button type="button" class="link" onClick={() => (setFrom(""), setTo(""))}>
            {t("any time")}
          </button>
        )}
        </span>
        <label class="inline">
          {t("As of")}{" "}
          <input type="date" value={asOf} onInput={(e) => setAsOf((e.target as HTMLInputElement).value)} />
          {asOf && (
            <button type="button" class="link" onClick={() => setAsOf("")}>
              {t("now")}
            </button>
          )}
        </label>
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {/* Always drawn (a dash until the figures come), so their arrival moves nothing below. */}
      <dl class="figures">
          <div>
            <dt>{t("Won")}</dt>
            <dd data-figure="won">{analytics ? String(analytics.wonCount) : "–"}</dd>
          </div>
          <div>
            <dt>{t("Lost")}</dt>
            <dd data-figure="lost">{analytics ? String(analytics.lostCount) : "–"}</dd>
          </div>
          <div>
            <dt>{t("Win rate")}</dt>
            <dd>{analytics ? `${Math.round(analytics.winRate * 100)}%` : "–"}</dd>
          </div>
          <div>
            <dt>{t("Won value")}</dt>
            <dd data-figure="won-value">{formatMoney(analytics?.wonValue) || "–"}</dd>
          </div>
          <div>
            <dt>{t("Average deal")}</dt>
            <dd>{formatMoney(analytics?.averageDealValue) || "–"}</dd>
          </div>
        </dl>
      <div class="charts">
        <figure>
          <figcaption>{t("Open value by stage")}</figcaption>
          <ChartOf
            label={t("Open value by stage")}
            type="bar"
            labels={stages.map((s) => s.stageName)}
            series={[{ label: t("Open value"), data: stages.map((s) => value(s.openValue)), color: "#7a3e1d" }]}
          />
          <div class="scroll" tabIndex={0}><table class="compact">
            <thead>
              <tr>
                <th scope="col">{t("Stage")}</th>
                <th scope="col">{t("Open")}</th>
                <th scope="col">{t("Value")}</th>
              </tr>
            </thead>
            <tbody>
              {stages.map((s) => (
                <tr key={s.stageId}>
                  <td translate={false}>{s.stageName}</td>
                  <td>{String(s.openCount)}</td>
                  <td>{formatMoney(s.openValue)}</td>
                </tr>
              ))}
            </tbody>
          </table></div>
        </figure>
        <figure>
          <figcaption>{t("Revenue forecast")}</figcaption>
          <ChartOf
            label={t("Revenue forecast by month")}
            type="line"
            labels={periods.map(month)}
            series={[
              { label: t("Committed"), data: periods.map((p) => value(p.committed)), color: "#7a3e1d" },
              { label: t("Weighted"), data: periods.map((p) => value(p.weighted)), color: "#c77d3a" },
              { label: t("Best case"), data: periods.map((p) => value(p.bestCase)), color: "#8a9a5b" },
            ]}
          />
          <p class="hint" data-figure="outside-forecast">
            Not in any month: {outside(forecast?.overdue, t("overdue (past their close date, still open)"))};{" "}
            {outside(forecast?.undated, t("without a close date"))}.
          </p>
        </figure>
      </div>
      {team && (
        <Team team={team} whose={whose} nameOf={nameOf} choose={readAll ? setWhose : undefined} asOf={asOf} />
      )}
    </section>
  );
}

/** The figures per owner (now, for the deals created in the chosen days); a name picks their deals. */
function Team({
  team,
  whose,
  nameOf,
  choose,
  asOf,
}: {
  team: GetTeamAnalyticsResponse;
  whose: string;
  nameOf: (id: string) => string;
  choose?: (id: string) => void;
  asOf: string;
}) {
  return (
    <figure class="team">
      <figcaption id="team-title">{asOf ? t("By owner, now") : t("By owner")}</figcaption>
      {team.owners.length === 0 ? (
        <p class="hint">{t("No deal was created in these days.")}</p>
      ) : (
        <div class="scroll" tabIndex={0}>
          <table class="compact" aria-labelledby="team-title">
            <thead>
              <tr>
                <th scope="col">{t("Owner")}</th>
                <th scope="col">{t("Open")}</th>
                <th scope="col">{t("Open value")}</th>
                <th scope="col">{t("Weighted")}</th>
                <th scope="col">{t("Won")}</th>
                <th scope="col">{t("Won value")}</th>
                <th scope="col">{t("Lost")}</th>
                <th scope="col">{t("Win rate")}</th>
                <th scope="col">{t("Overdue")}</th>
                <th scope="col">{t("No close date")}</th>
              </tr>
            </thead>
            <tbody>
              {team.owners.map((o) => (
                <tr key={o.ownerId} data-owner={o.ownerId} aria-current={o.ownerId && o.ownerId === whose ? "true" : undefined}>
                  <th scope="row">
                    {choose && o.ownerId ? (
                      <button type="button" class="link" onClick={() => choose(o.ownerId)}>
                        {nameOf(o.ownerId)}
                      </button>
                    ) : (
                      nameOf(o.ownerId)
                    )}
                  </th>
                  <td>{String(o.openCount)}</td>
                  <td>{formatMoney(o.openValue)}</td>
                  <td>{formatMoney(o.weightedValue)}</td>
                  <td>{String(o.wonCount)}</td>
                  <td>{formatMoney(o.wonValue)}</td>
                  <td>{String(o.lostCount)}</td>
                  <td>{o.wonCount + o.lostCount > 0n ? `${Math.round(o.winRate * 100)}%` : "–"}</td>
                  <td>{String(o.overdueCount)}</td>
                  <td>{String(o.undatedCount)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </figure>
  );
}

/** Open deals no month of the forecast counts: how many, and their value. */
function outside(p: ForecastPeriod | undefined, what: string): string {
  const n = Number(p?.openCount ?? 0n);
  if (n === 0) return t("no deal {{what}}", { what });
  return t("{{count}} deals {{what}}, {{amount}}", { count: n, what, amount: formatMoney(p?.bestCase) });
}

type Series = { label: string; data: number[]; color: string };

/** A Chart.js chart, redrawn when its data change; described for screen readers. */
function ChartOf({ label, type, labels, series }: { label: string; type: "bar" | "line"; labels: string[]; series: Series[] }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, {
      type,
      data: {
        labels,
        datasets: series.map((s) => ({ label: s.label, data: s.data, backgroundColor: s.color, borderColor: s.color })),
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false },
    });
    return () => chart.destroy();
  }, [type, JSON.stringify(labels), JSON.stringify(series)]);
  return (
    <div class="chart">
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}
