import { useEffect, useState } from "preact/hooks";
import { customers } from "../api";
import type { Problem } from "../errors";
import { EmailKind } from "../gen/crm/common/v1/contact_points_pb";
import { phonesWith } from "../customerForm";
import { Phone } from "./Phone";
import type { Contact } from "../gen/crm/customer/v1/customers_pb";
import { Field } from "./Field";
import { t } from "../i18n";

type Props = {
  customerId: string;
  onError: (err: unknown) => Problem;
  /** A contact is part of its customer: after a change the customer (and its etag) moved on. */
  onChanged: () => void;
  /** Whether the contacts may be changed (the customer's, as the customer's own details). */
  mayChange: boolean;
};

type Form = { given: string; family: string; title: string; department: string; email: string; phone: string };
const EMPTY: Form = { given: "", family: "", title: "", department: "", email: "", phone: "" };

function formOf(c: Contact): Form {
  return {
    given: c.givenName,
    family: c.familyName,
    title: c.jobTitle,
    department: c.department,
    email: c.emails[0]?.address ?? "",
    phone: c.phones[0]?.e164Number ?? "",
  };
}

/** The fields of a contact form, with the service's violations beside them. */
function ContactFields({ form, set, fields, prefix }: { form: Form; set: (f: Form) => void; fields: Record<string, string>; prefix: string }) {
  const at = (key: keyof Form) => (value: string) => set({ ...form, [key]: value });
  return (
    <div class="row">
      <Field label={t("Contact's given name")} name={`${prefix}-given`} value={form.given} onInput={at("given")} error={fields["contact.given_name"]} />
      <Field label={t("Contact's family name")} name={`${prefix}-family`} value={form.family} onInput={at("family")} error={fields["contact.family_name"]} />
      <Field label={t("Job title")} name={`${prefix}-title`} value={form.title} onInput={at("title")} error={fields["contact.job_title"]} />
      <Field label={t("Department")} name={`${prefix}-department`} value={form.department} onInput={at("department")} error={fields["contact.department"]} />
      <Field label={t("Contact's email")} name={`${prefix}-email`} type="email" value={form.email} onInput={at("email")} error={fields["contact.emails[0].address"] ?? fields["contact.emails"]} />
      <Field label={t("Contact's phone")} name={`${prefix}-phone`} value={form.phone} onInput={at("phone")} error={fields["contact.phones[0].e164_number"] ?? fields["contact.phones"]} hint={t("e.g. 012-345 6789")} />
    </div>
  );
}

/** A customer's contacts: listed, added, edited (changed fields only, with the etag), made primary, removed. */
export function Contacts({ customerId, onError, onChanged, mayChange }: Props) {
  const [contacts, setContacts] = useState<Contact[]>([]);
  const [adding, setAdding] = useState<Form>(EMPTY);
  const [editing, setEditing] = useState<{ id: string; form: Form }>();
  const [removing, setRemoving] = useState<string>();
  const [problem, setProblem] = useState<Problem>();
  const [status, setStatus] = useState<string>();

  const reload = async () => setContacts((await customers.listContacts({ customerId, pageSize: 100 })).contacts);
  useEffect(() => {
    reload().catch((err) => setProblem(onError(err)));
  }, [customerId]);

  /** Runs a change, then reads the list and the customer again. */
  const change = async (work: () => Promise<string>) => {
    try {
      const done = await work();
      await reload();
      onChanged();
      setProblem(undefined);
      setStatus(done);
    } catch (err) {
      setStatus(undefined);
      setProblem(onError(err));
    }
  };

  const emails = (address: string, before?: Contact) =>
    address.trim() ? [{ address: address.trim(), kind: before?.emails[0]?.kind || EmailKind.WORK, primary: true }] : [];

  const add = (e: Event) => {
    e.preventDefault();
    change(async () => {
      await customers.addContact({
        customerId,
        contact: { givenName: adding.given, familyName: adding.family, jobTitle: adding.title, department: adding.department, emails: emails(adding.email), phones: phonesWith([], adding.phone) },
        requestId: crypto.randomUUID(),
      });
      setAdding(EMPTY);
      return t("Added {{given}} {{family}}.", { given: adding.given, family: adding.family }).replace(/ +\./, ".");
    });
  };

  const save = (e: Event, before: Contact, form: Form) => {
    e.preventDefault();
    const was = formOf(before);
    const paths = [
      form.given !== was.given && "given_name",
      form.family !== was.family && "family_name",
      form.title !== was.title && "job_title",
      form.department !== was.department && "department",
      form.email !== was.email && "emails",
      form.phone !== was.phone && "phones",
    ].filter((p): p is string => Boolean(p));
    if (paths.length === 0) {
      setEditing(undefined);
      return;
    }
    change(async () => {
      await customers.updateContact({
        customerId,
        contact: {
          id: before.id,
          etag: before.etag,
          givenName: form.given,
          familyName: form.family,
          jobTitle: form.title,
          department: form.department,
          emails: emails(form.email, before),
          phones: phonesWith(before.phones, form.phone),
        },
        updateMask: { paths },
      });
      setEditing(undefined);
      return t("Saved {{given}}.", { given: form.given });
    });
  };

  const makePrimary = (c: Contact) =>
    change(async () => {
      await customers.setPrimaryContact({ customerId, contactId: c.id });
      return t("{{givenName}} is the primary contact now.", { givenName: c.givenName });
    });

  const remove = (c: Contact) =>
    change(async () => {
      await customers.removeContact({ customerId, contactId: c.id });
      setRemoving(undefined);
      return t("Removed {{givenName}}.", { givenName: c.givenName });
    });

  const f = problem?.fields ?? {};
  const name = (c: Contact) => `${c.givenName} ${c.familyName}`.trim();
  return (
    <div class="stack">
      <h3>{t("Contacts")}</h3>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {status && !problem && <p role="status">{status}</p>}
      <ul class="contacts" aria-label={t("Contacts")}>
        {contacts.map((c) =>
          editing?.id === c.id ? (
            <li key={c.id}>
              <form class="stack" aria-label={t("Edit {{name}}", { name: name(c) })} noValidate onSubmit={(e) => save(e, c, editing.form)}>
                <ContactFields form={editing.form} set={(form) => setEditing({ id: c.id, form })} fields={f} prefix="contact-edit" />
                <div class="actions">
                  <button type="submit">{t("Save the contact")}</button>
                  <button type="button" class="secondary" onClick={() => (setEditing(undefined), setProblem(undefined))}>
                    {t("Cancel")}
                  </button>
                </div>
              </form>
            </li>
          ) : (
            <li key={c.id}>
              <span>
                {name(c)}
                {c.jobTitle && <span class="hint"> · {c.jobTitle}</span>}
                {c.department && <span class="hint"> · {c.department}</span>}
                {c.emails[0] && <span class="hint"> · {c.emails[0].address}</span>}
              </span>
              {c.phones[0] && <Phone phone={c.phones[0]} />}
              {c.primary && <span class="badge">{t("Primary")}</span>}
              {removing === c.id ? (
                <span class="actions" role="group" aria-label={t("Remove {{name}}?", { name: name(c) })}>
                  <span>{t("Remove {{name}}?", { name: c.givenName })}</span>
                  <button type="button" onClick={() => remove(c)}>
                    {t("Yes, remove")}
                  </button>
                  <button type="button" class="secondary" onClick={() => setRemoving(undefined)}>
                    {t("Keep")}
                  </button>
                </span>
              ) : (
                mayChange && <span class="actions">
                  <button type="button" class="link" aria-label={t("Edit {{name}}", { name: name(c) })} onClick={() => (setEditing({ id: c.id, form: formOf(c) }), setProblem(undefined))}>
                    {t("Edit")}
                  </button>
                  {!c.primary && (
                    <button type="button" class="link" aria-label={t("Make {{name}} the primary contact", { name: name(c) })} onClick={() => makePrimary(c)}>
                      {t("Make primary")}
                    </button>
                  )}
                  <button type="button" class="link" aria-label={t("Remove {{name}}", { name: name(c) })} onClick={() => setRemoving(c.id)}>
                    {t("Remove")}
                  </button>
                </span>
              )}
            </li>
          ),
        )}
        {contacts.length === 0 && <li class="hint">{t("No contacts yet.")}</li>}
      </ul>
      {mayChange && (
        <form onSubmit={add} aria-label={t("New contact")} noValidate class="stack">
          <ContactFields form={adding} set={setAdding} fields={editing ? {} : f} prefix="contact" />
          <button type="submit" class="secondary">
            {t("Add the contact")}
          </button>
        </form>
      )}
    </div>
  );
}
