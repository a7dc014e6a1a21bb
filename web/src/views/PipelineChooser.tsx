import type { Pipeline } from "../gen/crm/sales/v1/pipelines_pb";
import { t } from "../i18n";

/** A list to choose the pipeline shown, when there is more than one. */
export function PipelineChooser({ all, chosen, choose }: { all: Pipeline[]; chosen?: Pipeline; choose: (id: string) => void }) {
  if (all.length < 2) return null;
  return (
    <span class="inline">
      <label for="pipeline-choice">{t("Pipeline")}</label>
      <select id="pipeline-choice" value={chosen?.id} onChange={(e) => choose((e.target as HTMLSelectElement).value)}>
        {all.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
            {p.default ? " (default)" : ""}
          </option>
        ))}
      </select>
    </span>
  );
}
