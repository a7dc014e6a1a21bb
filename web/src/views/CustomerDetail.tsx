import { useEffect, useState } from "preact/hooks";
import { customers } from "../api";
import type { Problem } from "../errors";
import { CustomerType, type Contact, type Customer } from "../gen/crm/customer/v1/customers_pb";
import { Field } from "./Field";

type Props = { customer: Customer; onError: (err: unknown) => Problem; onSaved: (c: Customer) => void; onClose: () => void };

/** One customer: its details edited by field mask and etag, and its contacts. */
export function CustomerDetail({ customer, onError, onSaved, onClose }: Props) {
  const business = customer.type === CustomerType.BUSINESS;
  const [form, setForm] = useState({
    legal: customer.business?.legalName ?? "",
    given: customer.individual?.givenName ?? "",
    family: customer.individual?.familyName ?? "",
    email: customer.email,
    notes: customer.notes,
  });
  const [contacts, setContacts] = useState<Contact[]>([]);
  const [contact, setContact] = useState({ given: "", family: "", title: "" });
  const [problem, setProblem] = useState<Problem>();
  const [saved, setSaved] = useState(false);
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });

  useEffect(() => {
    customers
      .listContacts({ customerId: customer.id, pageSize: 100 })
      .then((r) => setContacts(r.contacts))
      .catch((err) => setProblem(onError(err)));
  }, [customer.id]);

  const save = async (e: Event) => {
    e.preventDefault();
    // Only what changed goes in the mask; the etag refuses a save over someone else's.
    const paths: string[] = [];
    if (business && form.legal !== (customer.business?.legalName ?? "")) paths.push("business.legal_name");
    if (!business && form.given !== (customer.individual?.givenName ?? "")) paths.push("individual.given_name");
    if (!business && form.family !== (customer.individual?.familyName ?? "")) paths.push("individual.family_name");
    if (form.email !== customer.email) paths.push("email");
    if (form.notes !== customer.notes) paths.push("notes");
    if (paths.length === 0) return;
    try {
      const { customer: updated } = await customers.updateCustomer({
        customer: {
          id: customer.id,
          etag: customer.etag,
          email: form.email,
          notes: form.notes,
          business: business ? { legalName: form.legal } : undefined,
          individual: business ? undefined : { givenName: form.given, familyName: form.family },
        },
        updateMask: { paths },
      });
      if (updated) onSaved(updated);
      setProblem(undefined);
      setSaved(true);
    } catch (err) {
      setSaved(false);
      setProblem(onError(err));
    }
  };

  const addContact = async (e: Event) => {
    e.preventDefault();
    try {
      const { contact: added } = await customers.addContact({
        customerId: customer.id,
        contact: { givenName: contact.given, familyName: contact.family, jobTitle: contact.title },
        requestId: crypto.randomUUID(),
      });
      if (added) setContacts([...contacts, added]);
      setContact({ given: "", family: "", title: "" });
      // A contact is part of the customer: its etag moved on.
      const { customer: now } = await customers.getCustomer({ id: customer.id });
      if (now) onSaved(now);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const f = problem?.fields ?? {};
  return (
    <div class="card" role="region" aria-label={`Customer ${customer.displayName}`}>
      <div class="section-head">
        <h2>{customer.displayName}</h2>
        <button type="button" class="secondary" onClick={onClose}>
          Close
        </button>
      </div>
      <form onSubmit={save} aria-label="Customer details" noValidate class="stack">
        <div class="row">
          {business ? (
            <Field label="Legal name" name="edit-legal" value={form.legal} onInput={set("legal")} error={f["customer.business.legal_name"]} />
          ) : (
            <>
              <Field label="Given name" name="edit-given" value={form.given} onInput={set("given")} error={f["customer.individual.given_name"]} />
              <Field label="Family name" name="edit-family" value={form.family} onInput={set("family")} error={f["customer.individual.family_name"]} />
            </>
          )}
          <Field label="Customer email" name="edit-email" type="email" value={form.email} onInput={set("email")} error={f["customer.email"]} />
          <Field label="Notes" name="edit-notes" value={form.notes} onInput={set("notes")} error={f["customer.notes"]} />
        </div>
        {problem && <p class="error" role="alert">{problem.message}</p>}
        {saved && !problem && <p role="status">Saved.</p>}
        <button type="submit">Save the changes</button>
      </form>
      <h3>Contacts</h3>
      <ul class="contacts">
        {contacts.map((c) => (
          <li key={c.id}>
            {c.givenName} {c.familyName}
            {c.jobTitle && <span class="hint"> · {c.jobTitle}</span>}
          </li>
        ))}
        {contacts.length === 0 && <li class="hint">No contacts yet.</li>}
      </ul>
      <form onSubmit={addContact} aria-label="New contact" noValidate class="stack">
        <div class="row">
          <Field label="Contact's given name" name="contact-given" value={contact.given} onInput={(v) => setContact({ ...contact, given: v })} error={f["contact.given_name"]} />
          <Field label="Contact's family name" name="contact-family" value={contact.family} onInput={(v) => setContact({ ...contact, family: v })} error={f["contact.family_name"]} />
          <Field label="Job title" name="contact-title" value={contact.title} onInput={(v) => setContact({ ...contact, title: v })} error={f["contact.job_title"]} />
        </div>
        <button type="submit" class="secondary">
          Add the contact
        </button>
      </form>
    </div>
  );
}
