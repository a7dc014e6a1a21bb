import { useState } from "preact/hooks";
import { customers } from "../api";
import type { Problem } from "../errors";
import { CustomerType, type Customer } from "../gen/crm/customer/v1/customers_pb";
import { Contacts } from "./Contacts";
import { Field } from "./Field";

type Props = {
  customer: Customer;
  onError: (err: unknown) => Problem;
  onSaved: (c: Customer) => void;
  onDeleted: (id: string) => void;
  onClose: () => void;
};

/** One customer: its details edited by field mask and etag, and its contacts. */
export function CustomerDetail({ customer, onError, onSaved, onDeleted, onClose }: Props) {
  const business = customer.type === CustomerType.BUSINESS;
  const [form, setForm] = useState({
    legal: customer.business?.legalName ?? "",
    given: customer.individual?.givenName ?? "",
    family: customer.individual?.familyName ?? "",
    email: customer.email,
    notes: customer.notes,
  });
  const [problem, setProblem] = useState<Problem>();
  const [saved, setSaved] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });

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

  // A contact's change moves the customer's etag on: read it again so the next save holds.
  const reread = async () => {
    try {
      const { customer: now } = await customers.getCustomer({ id: customer.id });
      if (now) onSaved(now);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const remove = async () => {
    try {
      // With the etag: a customer someone changed meanwhile is not deleted unseen.
      await customers.deleteCustomer({ id: customer.id, etag: customer.etag });
      onDeleted(customer.id);
    } catch (err) {
      setDeleting(false);
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
      <Contacts customerId={customer.id} onError={onError} onChanged={reread} />
      {deleting ? (
        <div class="actions" role="group" aria-label={`Delete ${customer.displayName}?`}>
          <span>Delete {customer.displayName} and its contacts?</span>
          <button type="button" onClick={remove}>
            Yes, delete
          </button>
          <button type="button" class="secondary" onClick={() => setDeleting(false)}>
            Keep
          </button>
        </div>
      ) : (
        <div class="actions">
          <button type="button" class="secondary" onClick={() => setDeleting(true)}>
            Delete the customer
          </button>
        </div>
      )}
    </div>
  );
}
