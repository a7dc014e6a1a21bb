// The tenant's pipelines and people, for the screens that show one pipeline (the board, the
// dashboard) and name the owners of its deals.
import { useEffect, useState } from "preact/hooks";
import { pipelines, users } from "../api";
import { allPages } from "../paging";
import type { Pipeline } from "../gen/crm/sales/v1/pipelines_pb";
import type { User } from "../gen/crm/iam/v1/users_pb";

/** The workspace's people, page after page, to name and assign owners. */
export function usePeople(fail: (err: unknown) => void): User[] {
  const [people, setPeople] = useState<User[]>([]);
  useEffect(() => {
    allPages(async (pageToken) => {
      const page = await users.listUsers({ pageSize: 100, pageToken });
      return { items: page.users, next: page.nextPageToken };
    })
      .then(({ items }) => setPeople(items))
      .catch(fail);
  }, []);
  return people;
}

/**
 * Every pipeline (page after page), the one chosen (the default until another is), and the
 * chooser. With `keep`, the choice is kept in this browser under that name, so a reload shows the
 * same board (each screen keeps its own).
 */
export function usePipelines(fail: (err: unknown) => void, keep?: "board") {
  const key = keep && `kilang-crm.pipeline.${keep}`;
  const [all, setAll] = useState<Pipeline[]>([]);
  const [chosenId, setChosenId] = useState<string | undefined>(() => (key && localStorage.getItem(key)) || undefined);
  const choose = (id: string) => {
    setChosenId(id);
    try {
      if (key) localStorage.setItem(key, id);
    } catch {
      // A browser that keeps nothing still shows the board chosen, until a reload.
    }
  };
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
