import { useEffect, useState } from "preact/hooks";
import { savedViews } from "../api";
import type { Problem } from "../errors";
import type { SavedView } from "../gen/crm/iam/v1/views_pb";
import { t } from "../i18n";

type Props = {
  /** The list the views belong to (`customers`). */
  list: string;
  /** The list's filters and order now, as its address carries them after `?` ("" as it opens). */
  current: string;
  /** Shows the list as a view's query says. */
  open: (query: string) => void;
  /** Who is signed in: their own views are theirs to change. */
  me: string;
  /** Whether they may share views and change the shared ones (`views.share`). */
  share: boolean;
  onError: (err: unknown) => Problem;
};

/** A list's saved views: one's own and the workspace's, opened by choosing one, the list as
 * it is now saved under a name (shared when one may), and the view open deleted. */
export function SavedViews({ list, current, open, me, share, onError }: Props) {
  const [views, setViews] = useState<SavedView[]>([]);
  const [saving, setSaving] = useState(false);
  const [name, setName] = useState("");
  const [shared, setShared] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const [asking, setAsking] = useState(false);
  // The open view being renamed (or shared, or kept to oneself), with what is typed.
  const [changing, setChanging] = useState<{ name: string; shared: boolean }>();

  const load = () =>
    savedViews
      .listSavedViews({ list, pageSize: 500 })
      .then(({ savedViews }) => setViews(savedViews))
      .catch((err) => setProblem(onError(err)));
  useEffect(() => void load(), [list]);

  const byName = (a: SavedView, b: SavedView) => a.name.localeCompare(b.name);
  const mine = views.filter((v) => !v.shared).sort(byName);
  const workspace = views.filter((v) => v.shared).sort(byName);
  const chosen = views.find((v) => v.query === current);
  const mayDelete = chosen && (chosen.shared ? share : chosen.ownerUserId === me);
  // A question about one view is not left standing for another.
  useEffect(() => (setAsking(false), setChanging(undefined)), [chosen?.id]);

  const save = async (e: Event) => {
    e.preventDefault();
    setProblem(undefined);
    try {
      await savedViews.createSavedView({
        savedView: { list, name, query: current, shared },
        requestId: crypto.randomUUID(),
      });
      setSaving(false);
      setName("");
      setShared(false);
      await load();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const change = async (e: Event) => {
    e.preventDefault();
    if (!chosen || !changing) return;
    setProblem(undefined);
    try {
      // Sharing is in the mask only for those who may share; the etag refuses a change over
      // someone else's.
      await savedViews.updateSavedView({
        savedView: { id: chosen.id, etag: chosen.etag, name: changing.name, shared: changing.shared },
        updateMask: { paths: share ? ["name", "shared"] : ["name"] },
      });
      setChanging(undefined);
      await load();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const remove = async () => {
    setAsking(false);
    if (!chosen) return;
    try {
      await savedViews.deleteSavedView({ id: chosen.id, etag: chosen.etag });
      await load();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  return (
    <div class="filters" role="group" aria-label={t("Saved views")}>
      <label class="inline">
        {t("View")}{" "}
        <select value={chosen?.id ?? ""} onChange={(e) => {
          const id = (e.target as HTMLSelectElement).value;
          open(views.find((v) => v.id === id)?.query ?? "");
        }}>
          <option value="">{current && !chosen ? t("(not saved)") : t("As the list opens")}</option>
          {mine.length > 0 && (
            <optgroup label={t("Mine")}>
              {mine.map((v) => <option key={v.id} value={v.id} translate={false}>{v.name}</option>)}
            </optgroup>
          )}
          {workspace.length > 0 && (
            <optgroup label={t("Shared with the workspace")}>
              {workspace.map((v) => <option key={v.id} value={v.id} translate={false}>{v.name}</option>)}
            </optgroup>
          )}
        </select>
      </label>
      {!chosen && current && !saving && (
        <button type="button" class="link" onClick={() => setSaving(true)}>{t("Save this view")}</button>
      )}
      {mayDelete && !asking && !changing && (
        <button type="button" class="link" onClick={() => setChanging({ name: chosen.name, shared: chosen.shared })}>{t("Rename or share this view")}</button>
      )}
      {mayDelete && !asking && !changing && (
        <button type="button" class="link" onClick={() => setAsking(true)}>{t("Delete this view")}</button>
      )}
      {mayDelete && changing && (
        <form class="inline-form" onSubmit={change} aria-label={t("Change the view “{{name}}”", { name: chosen.name })}>
          <label class="inline">
            {t("Name")}{" "}
            <input value={changing.name} size={18} maxLength={60} required onInput={(e) => setChanging({ ...changing, name: (e.target as HTMLInputElement).value })} />
          </label>
          {share && (
            <label class="check">
              <input type="checkbox" checked={changing.shared} onChange={(e) => setChanging({ ...changing, shared: (e.target as HTMLInputElement).checked })} />
              {t("Share with the workspace")}
            </label>
          )}
          <button type="submit">{t("Save the view")}</button>
          <button type="button" class="secondary" onClick={() => (setChanging(undefined), setProblem(undefined))}>{t("Cancel")}</button>
        </form>
      )}
      {mayDelete && asking && (
        <div role="group" class="inline-form" aria-label={t("Delete the view “{{name}}”?", { name: chosen.name })}>
          <span>{t("Delete the view “{{name}}”? What it lists stays as it is.", { name: chosen.name })}</span>
          <button type="button" onClick={remove}>{t("Yes, delete")}</button>
          <button type="button" class="secondary" onClick={() => setAsking(false)}>{t("Cancel")}</button>
        </div>
      )}
      {saving && (
        <form class="inline-form" onSubmit={save} aria-label={t("Save this view")}>
          <label class="inline">
            {t("Name")}{" "}
            <input value={name} size={18} maxLength={60} required onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          {share && (
            <label class="check">
              <input type="checkbox" checked={shared} onChange={(e) => setShared((e.target as HTMLInputElement).checked)} />
              {t("Share with the workspace")}
            </label>
          )}
          <button type="submit">{t("Save the view")}</button>
          <button type="button" class="secondary" onClick={() => (setSaving(false), setProblem(undefined))}>{t("Cancel")}</button>
        </form>
      )}
      {problem && <p class="error" role="alert">{problem.message}</p>}
    </div>
  );
}
