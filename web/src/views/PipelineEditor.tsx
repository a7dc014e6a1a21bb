import { useState } from "preact/hooks";
import { pipelines } from "../api";
import type { Problem } from "../errors";
import type { Pipeline } from "../gen/crm/sales/v1/pipelines_pb";
import { Field } from "./Field";
import { percentage } from "../money";
import { t } from "../i18n";

type Props = {
  /** The pipeline to change, or none to make a new one. */
  pipeline?: Pipeline;
  onError: (err: unknown) => Problem;
  onSaved: (p: Pipeline) => void;
  onClose: () => void;
};

type StageRow = { id: string; name: string; probability: string };

/** A pipeline's name and stages (renamed, reordered, added, removed), or a new pipeline. */
export function PipelineEditor({ pipeline, onError, onSaved, onClose }: Props) {
  const [name, setName] = useState(pipeline?.name ?? "");
  const [currency, setCurrency] = useState(pipeline?.currencyCode ?? "MYR");
  const [makeDefault, setMakeDefault] = useState(pipeline?.default ?? false);
  const [stages, setStages] = useState<StageRow[]>(
    pipeline?.stages.map((s) => ({ id: s.id, name: s.name, probability: String(s.probability) })) ?? [
      { id: "", name: "", probability: "10" },
    ],
  );
  const [problem, setProblem] = useState<Problem>();

  const at = (i: number, change: Partial<StageRow>) => setStages(stages.map((s, j) => (j === i ? { ...s, ...change } : s)));
  const swap = (i: number, j: number) => {
    const next = [...stages];
    [next[i], next[j]] = [next[j], next[i]];
    setStages(next);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    const bad: Record<string, string> = {};
    stages.forEach((s, i) => {
      if (percentage(s.probability) === undefined) bad[`stages[${i}].probability`] = t("a whole percentage from 0 to 100");
    });
    if (Object.keys(bad).length > 0) {
      setProblem({ message: t("Please correct the marked fields."), fields: bad, signInAgain: false });
      return;
    }
    const sent = stages.map((s) => ({ id: s.id, name: s.name, probability: percentage(s.probability) ?? 0 }));
    try {
      let saved: Pipeline | undefined;
      if (pipeline) {
        const was = pipeline.stages.map((s) => `${s.id}:${s.name}:${s.probability}`).join("|");
        const now = sent.map((s) => `${s.id}:${s.name}:${s.probability}`).join("|");
        const paths = [name !== pipeline.name && "name", now !== was && "stages", makeDefault !== pipeline.default && "default"].filter(
          (p): p is string => Boolean(p),
        );
        if (paths.length === 0) return onClose();
        saved = (
          await pipelines.updatePipeline({
            pipeline: { id: pipeline.id, etag: pipeline.etag, name, stages: sent, default: makeDefault },
            updateMask: { paths },
          })
        ).pipeline;
      } else {
        saved = (
          await pipelines.createPipeline({
            pipeline: { name, currencyCode: currency, stages: sent, default: makeDefault },
            requestId: crypto.randomUUID(),
          })
        ).pipeline;
      }
      if (saved) onSaved(saved);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const f = problem?.fields ?? {};
  const field = (path: string) => f[`pipeline.${path}`] ?? f[path];
  return (
    <form class="card stack" onSubmit={save} aria-label={pipeline ? t("Edit the pipeline {{name}}", { name: pipeline.name }) : t("New pipeline")} noValidate>
      <div class="section-head">
        <h2>{pipeline ? t("The pipeline {{name}}", { name: pipeline.name }) : t("A new pipeline")}</h2>
        <button type="button" class="secondary" onClick={onClose}>
          {t("Close")}
        </button>
      </div>
      <div class="row">
        <Field label={t("Pipeline name")} name="pipeline-name" value={name} onInput={setName} error={field("name")} />
        {!pipeline && <Field label={t("Its currency")} name="pipeline-currency" value={currency} onInput={setCurrency} error={field("currency_code")} hint={t("ISO 4217, e.g. MYR")} />}
      </div>
      <fieldset class="stages">
        <legend>{t("Stages, in order (a stage still holding open opportunities cannot be removed)")}</legend>
        {field("stages") && <p class="field-error">{field("stages")}</p>}
        <ol>
          {stages.map((s, i) => (
            <li key={i} class="stage-row">
              <Field label={t("Stage {{number}}", { number: i + 1 })} name={`stage-${i}-name`} value={s.name} onInput={(v) => at(i, { name: v })} error={field(`stages[${i}].name`)} />
              <Field label={t("Stage {{number}} likelihood (%)", { number: i + 1 })} name={`stage-${i}-probability`} type="number" value={s.probability} onInput={(v) => at(i, { probability: v })} error={field(`stages[${i}].probability`)} />
              <span class="actions">
                <button type="button" class="link" disabled={i === 0} onClick={() => swap(i, i - 1)} aria-label={t("Move stage {{number}} up", { number: i + 1 })}>
                  {t("Up")}
                </button>
                <button type="button" class="link" disabled={i === stages.length - 1} onClick={() => swap(i, i + 1)} aria-label={t("Move stage {{number}} down", { number: i + 1 })}>
                  {t("Down")}
                </button>
                <button type="button" class="link" disabled={stages.length === 1} onClick={() => setStages(stages.filter((_, j) => j !== i))} aria-label={t("Remove stage {{number}}", { number: i + 1 })}>
                  {t("Remove")}
                </button>
              </span>
            </li>
          ))}
        </ol>
        <button type="button" class="secondary" onClick={() => setStages([...stages, { id: "", name: "", probability: "50" }])}>
          {t("Add a stage")}
        </button>
      </fieldset>
      <label class="inline">
        <input type="checkbox" checked={makeDefault} disabled={pipeline?.default} onChange={() => setMakeDefault(!makeDefault)} />
        {t("The default pipeline (where converted leads go unless another is chosen)")}
      </label>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <button type="submit">{pipeline ? t("Save the pipeline") : t("Make the pipeline")}</button>
    </form>
  );
}
