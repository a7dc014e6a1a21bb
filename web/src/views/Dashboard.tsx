import { useEffect, useRef, useState } from "preact/hooks";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { fromDayInput } from "../dates";
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
import type { ForecastPeriod, GetPipelineAnalyticsResponse, GetRevenueForecastResponse } from "../gen/crm/sales/v1/pipelines_pb";
import type { Money } from "../gen/google/type/money_pb";
import { formatMoney } from "../money";
import { PipelineChooser } from "./PipelineChooser";
import { usePipelines } from "./pipelines";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

type Props = { onError: (err: unknown) => Problem };

const value = (m: Money | undefined) => (m ? Number(m.units) + m.nanos / 1e9 : 0);

/** Pipeline analytics (now, or as of a past day) and the revenue forecast, as charts. */
export function Dashboard({ onError }: Props) {
  const [analytics, setAnalytics] = useState<GetPipelineAnalyticsResponse>();
  const [forecast, setForecast] = useState<GetRevenueForecastResponse>();
  const [asOf, setAsOf] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const { all, chosen, choose } = usePipelines((err) => setProblem(onError(err)));

  useEffect(() => {
    if (!chosen) return;
    let current = true;
    (async () => {
      try {
        const day = fromDayInput(asOf, "end");
        const [a, f] = await Promise.all([
          pipelines.getPipelineAnalytics({ id: chosen.id, asOf: day }),
          pipelines.getRevenueForecast({ id: chosen.id, months: 6 }),
        ]);
        // A slower answer for an earlier choice never overwrites a newer one.
        if (!current) return;
        setAnalytics(a);
        setForecast(f);
        setProblem(undefined);
      } catch (err) {
        if (current) setProblem(onError(err));
      }
    })();
    return () => {
      current = false;
    };
  }, [asOf, chosen?.id]);

  const stages = analytics?.stages ?? [];
  const periods = forecast?.periods ?? [];
  // A period is a month of the tenant's calendar: its middle names it in any time zone.
  const month = (p: (typeof periods)[number]) => {
    if (!p.startTime || !p.endTime) return "";
    const middle = (timestampDate(p.startTime).getTime() + timestampDate(p.endTime).getTime()) / 2;
    return new Date(middle).toLocaleDateString(undefined, { month: "short", year: "numeric" });
  };

  return (
    <section aria-labelledby="dashboard-title">
      <div class="section-head">
        <h1 id="dashboard-title">Dashboard{chosen && all.length > 1 ? `: ${chosen.name}` : ""}</h1>
        <PipelineChooser all={all} chosen={chosen} choose={choose} />
        <label class="inline">
          As of{" "}
          <input type="date" value={asOf} onInput={(e) => setAsOf((e.target as HTMLInputElement).value)} />
          {asOf && (
            <button type="button" class="link" onClick={() => setAsOf("")}>
              now
            </button>
          )}
        </label>
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {analytics && (
        <dl class="figures">
          <div>
            <dt>Won</dt>
            <dd data-figure="won">{String(analytics.wonCount)}</dd>
          </div>
          <div>
            <dt>Lost</dt>
            <dd data-figure="lost">{String(analytics.lostCount)}</dd>
          </div>
          <div>
            <dt>Win rate</dt>
            <dd>{Math.round(analytics.winRate * 100)}%</dd>
          </div>
          <div>
            <dt>Won value</dt>
            <dd data-figure="won-value">{formatMoney(analytics.wonValue) || "–"}</dd>
          </div>
          <div>
            <dt>Average deal</dt>
            <dd>{formatMoney(analytics.averageDealValue) || "–"}</dd>
          </div>
        </dl>
      )}
      <div class="charts">
        <figure>
          <figcaption>Open value by stage</figcaption>
          <ChartOf
            label="Open value by stage"
            type="bar"
            labels={stages.map((s) => s.stageName)}
            series={[{ label: "Open value", data: stages.map((s) => value(s.openValue)), color: "#7a3e1d" }]}
          />
          <div class="scroll" tabIndex={0}><table class="compact">
            <thead>
              <tr>
                <th scope="col">Stage</th>
                <th scope="col">Open</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {stages.map((s) => (
                <tr key={s.stageId}>
                  <td>{s.stageName}</td>
                  <td>{String(s.openCount)}</td>
                  <td>{formatMoney(s.openValue)}</td>
                </tr>
              ))}
            </tbody>
          </table></div>
        </figure>
        <figure>
          <figcaption>Revenue forecast</figcaption>
          <ChartOf
            label="Revenue forecast by month"
            type="line"
            labels={periods.map(month)}
            series={[
              { label: "Committed", data: periods.map((p) => value(p.committed)), color: "#7a3e1d" },
              { label: "Weighted", data: periods.map((p) => value(p.weighted)), color: "#c77d3a" },
              { label: "Best case", data: periods.map((p) => value(p.bestCase)), color: "#8a9a5b" },
            ]}
          />
          <p class="hint" data-figure="outside-forecast">
            Not in any month: {outside(forecast?.overdue, "overdue (past their close date, still open)")};{" "}
            {outside(forecast?.undated, "without a close date")}.
          </p>
        </figure>
      </div>
    </section>
  );
}

/** Open deals no month of the forecast counts: how many, and their value. */
function outside(p: ForecastPeriod | undefined, what: string): string {
  const n = Number(p?.openCount ?? 0n);
  if (n === 0) return `no deal ${what}`;
  return `${n} ${n === 1 ? "deal" : "deals"} ${what}, ${formatMoney(p?.bestCase)}`;
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
