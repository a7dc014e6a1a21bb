// The tenant's pipelines, for the screens that show one of them (the board, the dashboard).
import { useEffect, useState } from "preact/hooks";
import { pipelines } from "../api";
import { allPages } from "../paging";
import type { Pipeline } from "../gen/crm/sales/v1/pipelines_pb";

/** Every pipeline (page after page), the one chosen (the default until another is), and the chooser. */
export function usePipelines(fail: (err: unknown) => void) {
  const [all, setAll] = useState<Pipeline[]>([]);
  const [chosenId, choose] = useState<string>();
  const reload = async () => {
    const { items } = await allPages(async (pageToken) => {
      const page = await pipelines.listPipelines({ pageSize: 100, pageToken });
      return { items: page.pipelines, next: page.nextPageToken };
    });
    setAll(items);
  };
  useEffect(() => {
    reload().catch(fail);
  }, []);
  const chosen = all.find((p) => p.id === chosenId) ?? all.find((p) => p.default) ?? all[0];
  /** After a pipeline was made or changed: the list again, with it chosen. */
  const saved = (p: Pipeline) => {
    setAll((list) => (list.some((x) => x.id === p.id) ? list.map((x) => (x.id === p.id ? p : x)) : [...list, p]));
    choose(p.id);
    reload().catch(fail);
  };
  return { all, chosen, choose, saved };
}
