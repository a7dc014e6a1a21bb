import { useEffect, useState } from "preact/hooks";
import { templates } from "../api";
import type { Problem } from "../errors";
import { Channel } from "../gen/crm/notification/v1/notifications_pb";
import type { Template } from "../gen/crm/notification/v1/templates_pb";
import { Field, TextArea } from "./Field";
import { useSaving } from "./saving";
import { eventLabel, fieldsUsed } from "../templates";
import { allPages } from "../paging";
import { msg, t } from "../i18n";

type Props = { onError: (err: unknown) => Problem };

const CHANNELS: Record<number, string> = {
  [Channel.EMAIL]: msg("Email"),
  [Channel.SMS]: msg("SMS"),
  [Channel.IN_APP]: msg("In the console"),
};

/** What the workspace's notifications say: each template, per event, channel and language. */
export function Messages({ onError }: Props) {
  const [list, setList] = useState<Template[]>([]);
  const [open, setOpen] = useState<Template>();
  const [problem, setProblem] = useState<Problem>();

  useEffect(() => {
    (async () => {
      const { items: all } = await allPages(async (pageToken) => {
        const page = await templates.listTemplates({ pageSize: 100, pageToken });
        return { items: page.templates, next: page.nextPageToken };
      });
      all.sort((a, b) => a.eventType.localeCompare(b.eventType) || a.channel - b.channel || a.locale.localeCompare(b.locale));
      setList(all);
    })().catch((err) => setProblem(onError(err)));
  }, []);

  const replace = (tpl: Template) => {
    setList((all) => all.map((x) => (x.id === tpl.id ? tpl : x)));
    if (open?.id === tpl.id) setOpen(tpl);
  };

  const toggle = async (tpl: Template) => {
    try {
      const { template } = await templates.updateTemplate({
        template: { id: tpl.id, etag: tpl.etag, enabled: !tpl.enabled },
        updateMask: { paths: ["enabled"] },
      });
      if (template) replace(template);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  return (
    <section aria-labelledby="messages-title">
      <div class="section-head">
        <h1 id="messages-title">{t("Messages")}</h1>
      </div>
      <p class="hint">{t("What the CRM writes when something happens, in each language: the reader's language picks one (their own, else the workspace's), else English.")}</p>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {open && <Editor key={open.id} template={open} onError={onError} onSaved={replace} onClose={() => setOpen(undefined)} />}
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">{t("When")}</th>
            <th scope="col">{t("Sent by")}</th>
            <th scope="col">{t("Language")}</th>
            <th scope="col">{t("Subject")}</th>
            <th scope="col">{t("Sent")}</th>
          </tr>
        </thead>
        <tbody>
          {list.map((tpl) => (
            <tr key={tpl.id}>
              <td>
                <button type="button" class="link" onClick={() => setOpen(tpl)} aria-label={t("Edit {{name}}", { name: tpl.name })}>
                  {eventLabel(tpl.eventType)}
                </button>
              </td>
              <td>{t(CHANNELS[tpl.channel] ?? "—")}</td>
              <td>{tpl.locale}</td>
              <td>{tpl.subjectTemplate}</td>
              <td>
                <input type="checkbox" checked={tpl.enabled} onChange={() => toggle(tpl)} aria-label={t("Send {{name}}", { name: tpl.name })} />
              </td>
            </tr>
          ))}
          {list.length === 0 && (
            <tr>
              <td colSpan={5} class="empty">
                {t("No messages.")}
              </td>
            </tr>
          )}
        </tbody>
      </table></div>
    </section>
  );
}

type EditorProps = { template: Template; onError: (err: unknown) => Problem; onSaved: (tpl: Template) => void; onClose: () => void };

/** One template's subject and body, saved with the changed fields only and the etag. */
function Editor({ template, onError, onSaved, onClose }: EditorProps) {
  const [subject, setSubject] = useState(template.subjectTemplate);
  const [body, setBody] = useState(template.bodyTemplate);
  const { problem, saved, save: saving, edited } = useSaving(onError);
  const fields = fieldsUsed(template.subjectTemplate, template.bodyTemplate);

  const save = async (e: Event) => {
    e.preventDefault();
    const paths = [subject !== template.subjectTemplate && "subject_template", body !== template.bodyTemplate && "body_template"].filter(
      (p): p is string => Boolean(p),
    );
    if (paths.length === 0) return;
    await saving(async () => {
      const { template: updated } = await templates.updateTemplate({
        template: { id: template.id, etag: template.etag, subjectTemplate: subject, bodyTemplate: body },
        updateMask: { paths },
      });
      if (updated) onSaved(updated);
    });
  };

  const f = problem?.fields ?? {};
  return (
    <form class="card stack" onSubmit={save} aria-label={t("Message {{name}}", { name: template.name })} noValidate>
      <div class="section-head">
        <h2>
          {eventLabel(template.eventType)} · {t(CHANNELS[template.channel] ?? "—")} · {template.locale}
        </h2>
        <button type="button" class="secondary" onClick={onClose}>
          {t("Close")}
        </button>
      </div>
      {template.channel !== Channel.SMS && (
        <Field label={t("Subject")} name="template-subject" value={subject} onInput={(v) => (edited(), setSubject(v))} error={f["template.subject_template"]} />
      )}
      <TextArea label={t("Text")} name="template-body" value={body} onInput={(v) => (edited(), setBody(v))} error={f["template.body_template"]} rows={7} />
      {fields.length > 0 && (
        <p class="hint">
          {t("Filled in from the event:")} {fields.map((name, i) => [i > 0 && ", ", <code key={name}>{`{{ ${name} }}`}</code>])}
        </p>
      )}
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {saved && !problem && <p role="status">{t("Saved.")}</p>}
      <button type="submit">{t("Save the message")}</button>
    </form>
  );
}
