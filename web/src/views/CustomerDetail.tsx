import { useState } from "preact/hooks";
import { ConnectError } from "@connectrpc/connect";
import { customers } from "../api";
import { reason, type Problem } from "../errors";
import { CustomerType, type Customer } from "../gen/crm/customer/v1/customers_pb";
import { changedPaths, customerOf, formOf, STATUSES, type CustomerForm } from "../customerForm";
import { Contacts } from "./Contacts";
import { Phone } from "./Phone";
import { AddressFields } from "./AddressFields";
import { CustomerDeals } from "./CustomerDeals";
import { Field } from "./Field";
import { useSaving } from "./saving";
import { Timeline } from "./Timeline";
import { RecordType } from "../gen/crm/activity/v1/records_pb";
import { t } from "../i18n";
import { CustomFieldInputs } from "./CustomFields";
import { typedOf, valuesWith } from "../customFields";
import type { CustomField } from "../gen/crm/customer/v1/custom_fields_pb";

type Props = {
  customer: Customer;
  onError: (err: unknown) => Problem;
  onSaved: (c: Customer) => void;
  onDeleted: (id: string) => void;
  onClose: () => void;
  mayDelete: boolean;
  /** Whether its details and contacts may be changed: a rep changes only their own customers. */
  mayChange: boolean;
  mayOpenDeals: boolean;
  mayLog: { log: boolean; task: boolean };
  /** The workspace's custom fields, each with an input. */
  fields: CustomField[];
};

/** One customer: its details edited by field mask and etag, and its contacts. */
export function CustomerDetail({ customer, onError, onSaved, onDeleted, onClose, mayDelete, mayChange, mayOpenDeals, mayLog, fields }: Props) {
  const business = customer.type === CustomerType.BUSINESS;
  const [form, setForm] = useState<CustomerForm>(() => formOf(customer));
  // The custom fields as typed (the definitions may arrive after the customer).
  const [typed, setTyped] = useState<Record<string, string>>({});
  const typedNow = { ...typedOf(fields, customer.customFields), ...typed };
  const { problem, setProblem, saved, save: saving, edited } = useSaving(onError);
  const [deleting, setDeleting] = useState(false);
  // A refused delete, shown in the confirmation; open opportunities offer closing them as lost.
  const [deleteProblem, setDeleteProblem] = useState<{ message: string; openOpportunities: boolean }>();
  const set = (key: keyof CustomerForm) => (value: string) => (edited(), setForm({ ...form, [key]: value }));

  const save = async (e: Event) => {
    e.preventDefault();
    // Only what changed goes in the mask; the etag refuses a save over someone else's.
    const paths = changedPaths(customer, form);
    const custom = valuesWith(fields, customer.customFields, typedNow);
    if (custom) paths.push("custom_fields");
    if (paths.length === 0) return;
    await saving(async () => {
      const { customer: updated } = await customers.updateCustomer({
        customer: { ...customerOf(customer, form), customFields: custom ?? {} },
        updateMask: { paths },
      });
      if (updated) {
        setTyped({});
        onSaved(updated);
      }
    });
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

  const remove = async (closeOpenOpportunities: boolean) => {
    try {
      // With the etag: a customer someone changed meanwhile is not deleted unseen.
      await customers.deleteCustomer({ id: customer.id, etag: customer.etag, closeOpenOpportunities });
      onDeleted(customer.id);
    } catch (err) {
      const openOpportunities = err instanceof ConnectError && reason(err) === "OPEN_OPPORTUNITIES";
      setDeleteProblem({ message: onError(err).message, openOpportunities });
    }
  };
  const keep = () => (setDeleting(false), setDeleteProblem(undefined));

  const f = problem?.fields ?? {};
  return (
    <div class="card" role="region" aria-label={t("Customer {{displayName}}", { displayName: customer.displayName })}>
      <div class="section-head">
        <h2>{customer.displayName}</h2>
        <button type="button" class="secondary" onClick={onClose}>
          {t("Close")}
        </button>
      </div>
      <p class="reach">
        {customer.phones[0] && <Phone phone={customer.phones[0]} />}
        {customer.email && (
          <a href={`mailto:${customer.email}`} title={t("Write an email")}>
            {customer.email}
          </a>
        )}
      </p>
      {!mayChange && (
        <p class="notice" role="note">
          {t("{{displayName}} is someone else's customer: you can read it and work on deals with it; its owner or a sales manager changes its details and contacts.", { displayName: customer.displayName })}
        </p>
      )}
      <form onSubmit={save} aria-label={t("Customer details")} noValidate class="stack">
        <fieldset class="plain" disabled={!mayChange}>
        <div class="row">
          {business ? (
            <Field label={t("Legal name")} name="edit-legal" value={form.legal} onInput={set("legal")} error={f["customer.business.legal_name"]} />
          ) : (
            <>
              <Field label={t("Given name")} name="edit-given" value={form.given} onInput={set("given")} error={f["customer.individual.given_name"]} />
              <Field label={t("Family name")} name="edit-family" value={form.family} onInput={set("family")} error={f["customer.individual.family_name"]} />
            </>
          )}
          <Field label={t("Customer email")} name="edit-email" type="email" value={form.email} onInput={set("email")} error={f["customer.email"]} />
          <Field label={t("Phone")} name="edit-phone" value={form.phone} onInput={set("phone")} error={f["customer.phones[0].e164_number"] ?? f["customer.phones"]} hint={t("e.g. 012-345 6789 or +65 6123 4567")} />
          <Field label={t("Tags")} name="edit-tags" value={form.tags} onInput={set("tags")} error={f["customer.tags"]} hint={t("Separated by commas")} />
          <div class="field">
            <label for="field-edit-status">{t("Status")}</label>
            <select id="field-edit-status" value={form.status} onChange={(e) => (edited(), setForm({ ...form, status: Number((e.target as HTMLSelectElement).value) }))}>
              {STATUSES.map(([status, label]) => (
                <option key={status} value={status}>
                  {t(label)}
                </option>
              ))}
            </select>
          </div>
          <Field label={t("Notes")} name="edit-notes" value={form.notes} onInput={set("notes")} error={f["customer.notes"]} />
        </div>
        <AddressFields form={form} set={set} errors={f} name="edit" />
        <CustomFieldInputs fields={fields} typed={typedNow} onInput={(key, value) => (edited(), setTyped({ ...typed, [key]: value }))} errors={f} name="edit" />
        </fieldset>
        {problem && <p class="error" role="alert">{problem.message}</p>}
        {saved && !problem && <p role="status">{t("Saved.")}</p>}
        {mayChange && <button type="submit">{t("Save the changes")}</button>}
      </form>
      <Contacts customerId={customer.id} onError={onError} onChanged={reread} mayChange={mayChange} />
      <CustomerDeals customerId={customer.id} customerName={customer.displayName} mayOpen={mayOpenDeals} onError={onError} />
      <Timeline recordType={RecordType.CUSTOMER} recordId={customer.id} name={customer.displayName} onError={onError} may={mayLog} />
      {deleting ? (
        <div class="confirm" role="group" aria-label={t("Delete {{displayName}}?", { displayName: customer.displayName })}>
          {deleteProblem ? (
            <p class="error" role="alert">
              {deleteProblem.message}
            </p>
          ) : (
            <span>{t("Delete {{name}} and its contacts?", { name: customer.displayName })}</span>
          )}
          <span class="actions">
            {deleteProblem?.openOpportunities ? (
              <button type="button" onClick={() => remove(true)}>
                {t("Delete, closing them as lost")}
              </button>
            ) : (
              !deleteProblem && (
                <button type="button" onClick={() => remove(false)}>
                  {t("Yes, delete")}
                </button>
              )
            )}
            <button type="button" class="secondary" onClick={keep}>
              {t("Keep")}
            </button>
          </span>
        </div>
      ) : (
        mayDelete && (
        <div class="actions">
          <button type="button" class="secondary" onClick={() => setDeleting(true)}>
            {t("Delete the customer")}
          </button>
        </div>
        )
      )}
    </div>
  );
}
