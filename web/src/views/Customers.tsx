import { useEffect, useRef, useState } from "preact/hooks";
import { customers } from "../api";
import type { Problem } from "../errors";
import { CustomerType, type Customer } from "../gen/crm/customer/v1/customers_pb";
import { Field } from "./Field";
import { Import } from "./Import";
import { SavedViews } from "./SavedViews";
import { CustomerDetail } from "./CustomerDetail";
import { RecentlyDeleted } from "./RecentlyDeleted";
import { customersCsv } from "../csv";
import { phonesWith, tagsOf } from "../customerForm";
import { Phone } from "./Phone";
import { SIZES, SORTS, columnSort, hashOf, listRequest, narrowed, viewOf, type CustomerView, type Sort } from "../customerView";
import { day } from "../dates";
import { STATUSES } from "../customerForm";
import { usePeople } from "./pipelines";
import { PersonChoice } from "./DealsOf";
import { PageSize, SortableHeading } from "./ListControls";
import { t } from "../i18n";
import { BulkActions } from "./BulkActions";
import { allPages } from "../paging";
import { CustomFieldFilters, CustomFieldInputs, useCustomFields } from "./CustomFields";
import { shown, valuesWith } from "../customFields";
import type { CustomField } from "../gen/crm/customer/v1/custom_fields_pb";

/** How many custom fields the list shows as columns (the first defined). */
const FIELD_COLUMNS = 3;

type Props = { onError: (err: unknown) => Problem };



/** Customers: a page at a time, search as you type, and a form to add one. */
/** What the signed-in person may do with customers; the rest is not offered. */
export type CustomerRights = {
  write: boolean;
  /** Changes every customer, not only one's own. */
  writeAll: boolean;
  /** Who is signed in: a customer they own is theirs to change. */
  me: string;
  importing: boolean;
  /** The workspace, and whether its import columns are the person's to keep (`tenant.manage`). */
  tenant: string;
  rememberColumns: boolean;
  /** Shares saved views with the workspace and changes the shared ones (`views.share`). */
  shareViews: boolean;
  exporting: boolean;
  remove: boolean;
  openDeals: boolean;
  logActivities: boolean;
  addTasks: boolean;
};

export function Customers({ onError, may }: Props & { may: CustomerRights }) {
  const [query, setQuery] = useState("");
  const [rows, setRows] = useState<Customer[]>([]);
  const [next, setNext] = useState("");
  const [pages, setPages] = useState<string[]>([""]);
  const [problem, setProblem] = useState<Problem>();
  const [adding, setAdding] = useState(false);
  const [importing, setImporting] = useState(false);
  const [exported, setExported] = useState<number>();
  const [open, setOpen] = useState<Customer>();
  const [deleted, setDeleted] = useState(false);
  // The order, filters and page size, as the address says (a reload or a link keeps them).
  const [view, setView] = useState<CustomerView>(() => viewOf(window.location.hash));
  const [total, setTotal] = useState<number>();
  // Until the first answer the list says it is loading, not that there is nothing.
  const [loaded, setLoaded] = useState(false);
  const change = (part: Partial<CustomerView>) => {
    const next = { ...view, ...part };
    setView(next);
    if (!window.location.hash.startsWith("#customers/")) history.replaceState(null, "", hashOf(next));
  };
  // Whoever may list the people can filter by them; anyone can ask for their own.
  const people = usePeople(() => undefined);
  const fields = useCustomFields(onError);
  const columns = fields.slice(0, FIELD_COLUMNS);

  // The customers selected for a bulk action (kept across pages), or every one the filters
  // take; a new search, filter or order starts again with none.
  const [selected, setSelected] = useState<Map<string, Customer>>(new Map());
  const [everyMatch, setEveryMatch] = useState(false);
  const selectable = may.write || may.remove || may.exporting;
  const clearSelection = () => (setSelected(new Map()), setEveryMatch(false));
  useEffect(clearSelection, [query, view]);
  const pageChosen = rows.length > 0 && rows.every((c) => everyMatch || selected.has(c.id));
  const choose = (c: Customer) => {
    const next = new Map(everyMatch ? rows.map((r) => [r.id, r]) : selected);
    if (next.has(c.id)) next.delete(c.id);
    else next.set(c.id, c);
    setSelected(next);
    setEveryMatch(false);
  };
  const choosePage = () => {
    const next = new Map(selected);
    for (const c of rows) {
      if (pageChosen) next.delete(c.id);
      else next.set(c.id, c);
    }
    setSelected(pageChosen ? new Map() : next);
    setEveryMatch(false);
  };
  const chosenCount = everyMatch ? (total ?? 0) : selected.size;
  // Every match is read page by page when an action runs, as the list is filtered now.
  const gather = async (progress: (found: number) => void): Promise<Customer[]> => {
    if (!everyMatch) return [...selected.values()];
    const { items } = await allPages(async (pageToken) => {
      const page = await customers.listCustomers({ ...listRequest(view), pageSize: 500, pageToken });
      progress(page.customers.length);
      return { items: page.customers, next: page.nextPageToken };
    });
    return items;
  };

  // Every customer, streamed by ExportCustomers over grpc-web, saved as a CSV file.
  const exportAll = async () => {
    try {
      const all: Customer[] = [];
      setExported(0);
      for await (const message of customers.exportCustomers({})) {
        if (message.customer) all.push(message.customer);
        if (all.length % 100 === 0) setExported(all.length);
      }
      setExported(all.length);
      const url = URL.createObjectURL(new Blob([customersCsv(all, fields)], { type: "text/csv" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = "customers.csv";
      a.click();
      URL.revokeObjectURL(url);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  const asked = useRef(0);

  // `#customers/<id>` opens that customer (a reminder's link, a task of one's day).
  useEffect(() => {
    const follow = async () => {
      const id = window.location.hash.split("/")[1];
      // The list's own address (the Customers link, back and forward): shown as it says.
      if (!id) {
        setOpen(undefined);
        setView((shown) => (hashOf(shown) === window.location.hash || !window.location.hash.startsWith("#customers") ? shown : viewOf(window.location.hash)));
        return;
      }
      try {
        const { customer } = await customers.getCustomer({ id });
        if (customer) setOpen(customer);
      } catch (err) {
        setProblem(onError(err));
      }
    };
    follow();
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);

  const fetchPage = async (token: string) => {
    const ticket = ++asked.current;
    try {
      const wanted = listRequest(view);
      const answer = query.trim()
        ? await customers.searchCustomers({ query: query.trim(), pageSize: Math.min(wanted.pageSize, 100), pageToken: token, type: wanted.type, tags: wanted.tags, customFields: wanted.customFields })
        : await customers.listCustomers({ ...wanted, pageToken: token });
      // A slower answer to an earlier keystroke never overwrites a newer one.
      if (ticket !== asked.current) return;
      // The count comes with the first page of a listing (a search counts nothing).
      if (!token) setTotal(answer.$typeName === "crm.customer.v1.ListCustomersResponse" ? answer.totalSize : undefined);
      setRows(answer.customers);
      setLoaded(true);
      setNext(answer.nextPageToken);
      setProblem(undefined);
    } catch (err) {
      if (ticket === asked.current) setProblem(onError(err));
    }
  };

  // Search as you type, a moment after the last keystroke.
  useEffect(() => {
    const timer = setTimeout(() => {
      setPages([""]);
      fetchPage("");
    }, 150);
    return () => clearTimeout(timer);
  }, [query, view]);

  const forward = () => {
    setPages([...pages, next]);
    fetchPage(next);
  };
  const back = () => {
    const earlier = pages.slice(0, -1);
    setPages(earlier);
    fetchPage(earlier[earlier.length - 1] ?? "");
  };

  return (
    <section aria-labelledby="customers-title">
      <div class="section-head">
        <h1 id="customers-title">{t("Customers")}</h1>
        <div class="actions">
          {may.remove && (
            <button type="button" class="secondary" aria-expanded={deleted} onClick={() => setDeleted(!deleted)}>
              {deleted ? t("Close recently deleted") : t("Recently deleted")}
            </button>
          )}
          {may.exporting && (
            <button type="button" class="secondary" onClick={exportAll}>
              {t("Export a CSV file")}
            </button>
          )}
          {may.importing && (
            <button type="button" class="secondary" onClick={() => setImporting(!importing)}>
              {importing ? t("Close the import") : t("Import a CSV file")}
            </button>
          )}
          {may.write && (
            <button type="button" onClick={() => setAdding(!adding)}>
              {adding ? t("Close") : t("Add a customer")}
            </button>
          )}
        </div>
      </div>
      {exported !== undefined && (
        <p class="hint" role="status">
          {t("Exported {{exported}} customers.", { exported })}
        </p>
      )}
      {deleted && (
        <RecentlyDeleted
          onError={onError}
          onRestored={(c) => setRows((all) => [c, ...all.filter((r) => r.id !== c.id)])}
        />
      )}
      {importing && <Import onError={onError} onDone={() => fetchPage("")} tenantId={may.tenant} canRemember={may.rememberColumns} />}
      {open && (
        <CustomerDetail
          key={open.id}
          customer={open}
          onError={onError}
          onSaved={(c) => {
            setOpen(c);
            setRows((all) => all.map((r) => (r.id === c.id ? c : r)));
          }}
          onDeleted={(id) => {
            setOpen(undefined);
            setRows((all) => all.filter((r) => r.id !== id));
            // Gone: back does not lead to it again.
            history.replaceState(null, "", hashOf(view));
          }}
          onClose={() => (window.location.hash = hashOf(view))}
          mayDelete={may.remove}
          mayChange={may.writeAll || (may.write && open.ownerId === may.me)}
          mayOpenDeals={may.openDeals}
          mayLog={{ log: may.logActivities, task: may.addTasks }}
          fields={fields}
        />
      )}
      {adding && (
        <NewCustomer
          onError={onError}
          fields={fields}
          onCreated={(c) => {
            setAdding(false);
            setRows([c, ...rows]);
          }}
        />
      )}
      <label class="search">
        <span>{t("Search")}</span>
        <input
          type="search"
          placeholder={t("Name, email, phone, tag…")}
          value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        />
      </label>
      <SavedViews
        list="customers"
        current={hashOf(view).split("?")[1] ?? ""}
        open={(saved) => change(viewOf(`#customers?${saved}`))}
        me={may.me}
        share={may.shareViews}
        onError={onError}
      />
      <div class="filters" role="group" aria-label={t("Which customers")}>
        <label class="inline">
          {t("Order")}{" "}
          <select value={view.sort} onChange={(e) => change({ sort: (e.target as HTMLSelectElement).value as CustomerView["sort"] })} disabled={!!query.trim()}>
            {SORTS.map(([s, words]) => (
              <option key={s} value={s}>
                {t(words)}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          {t("Kind")}{" "}
          <select value={view.kind} onChange={(e) => change({ kind: (e.target as HTMLSelectElement).value as CustomerView["kind"] })}>
            <option value="">{t("any")}</option>
            <option value="business">{t("Business")}</option>
            <option value="person">{t("Person")}</option>
          </select>
        </label>
        <label class="inline">
          {t("Status")}{" "}
          <select value={view.status} onChange={(e) => change({ status: (e.target as HTMLSelectElement).value as CustomerView["status"] })} disabled={!!query.trim()}>
            <option value="">{t("any")}</option>
            {STATUSES.map(([, words]) => (
              <option key={words} value={words.toLowerCase()}>
                {t(words)}
              </option>
            ))}
          </select>
        </label>
        <PersonChoice label={t("Owner")} anyone={t("anyone")} mine={t("me")} whose={view.owner} me={may.me} people={people} choose={(owner) => change({ owner })} disabled={!!query.trim()} />
        <label class="inline">
          {t("Tag")}{" "}
          <input value={view.tag} size={10} onChange={(e) => change({ tag: (e.target as HTMLInputElement).value })} />
        </label>
        <CustomFieldFilters fields={fields} chosen={view.fields} change={(chosen) => change({ fields: chosen })} />
        <PageSize sizes={SIZES} size={view.size} change={(size) => change({ size })} />
        {narrowed(view) && (
          <button type="button" class="link" onClick={() => change({ kind: "", status: "", owner: "", tag: "", fields: {} })}>
            {t("Every customer")}
          </button>
        )}
      </div>
      {query.trim() && <p class="hint">{t("A search finds the best matches first; the kind and the tag still apply.")}</p>}
      {/* Always there (empty until counted), so the count arriving moves nothing below it. */}
      <p class="hint count" role="status" aria-live="polite">
        {total !== undefined && !query.trim()
          ? `${narrowed(view) ? t("{{count}} customers match", { count: total }) : t("{{count}} customers", { count: total })}${total > view.size ? ` · ${t("page {{page}} of {{pages}}", { page: pages.length, pages: Math.ceil(total / view.size) })}` : ""}`
          : ""}
      </p>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {selectable && chosenCount > 0 && (
        <p class="hint">
          {pageChosen && !everyMatch && !query.trim() && total !== undefined && total > rows.length && (
            <button type="button" class="link" onClick={() => setEveryMatch(true)}>
              {t("Select all {{count}} that match", { count: total })}
            </button>
          )}{" "}
          <button type="button" class="link" onClick={clearSelection}>
            {t("Clear the selection")}
          </button>
        </p>
      )}
      {selectable && (
        <BulkActions
          count={chosenCount}
          gather={gather}
          people={people}
          me={may.me}
          may={{ write: may.write, remove: may.remove, exporting: may.exporting }}
          fields={fields}
          onError={onError}
          onDone={() => {
            clearSelection();
            fetchPage("");
          }}
        />
      )}
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            {selectable && (
              <th scope="col">
                <input type="checkbox" aria-label={t("Select every customer on this page")} checked={pageChosen} onChange={choosePage} />
              </th>
            )}
            <SortableHeading label={t("Name")} {...columnSort("name", view.sort)} disabled={!!query.trim()} change={(sort: Sort) => change({ sort })} />
            <th scope="col">{t("Kind")}</th>
            <th scope="col">{t("Email")}</th>
            <th scope="col">{t("Phone")}</th>
            <th scope="col">{t("Tags")}</th>
            {columns.map((f) => (
              <th scope="col" key={f.key}>
                {f.label}
              </th>
            ))}
            <SortableHeading label={t("Added")} {...columnSort("added", view.sort)} disabled={!!query.trim()} change={(sort: Sort) => change({ sort })} />
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={c.id}>
              {selectable && (
                <td>
                  <input type="checkbox" aria-label={t("Select {{name}}", { name: c.displayName })} checked={everyMatch || selected.has(c.id)} onChange={() => choose(c)} />
                </td>
              )}
              <td class="name">
                <button type="button" class="link" onClick={() => (window.location.hash = `#customers/${c.id}`)}>
                  {c.displayName}
                </button>
              </td>
              <td>{c.type === CustomerType.BUSINESS ? t("Business") : t("Person")}</td>
              <td>{c.email}</td>
              <td>{c.phones[0] && <Phone phone={c.phones[0]} />}</td>
              <td>{c.tags.join(", ")}</td>
              {columns.map((f) => (
                <td key={f.key}>{shown(c.customFields[f.key])}</td>
              ))}
              <td>{day(c.createTime)}</td>
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={(selectable ? 7 : 6) + columns.length} class="empty">
                {!loaded ? t("Loading…") : query ? t("No customer matches.") : t("No customers yet.")}
              </td>
            </tr>
          )}
        </tbody>
      </table></div>
      <nav class="pager" aria-label={t("Pages")}>
        <button type="button" onClick={back} disabled={pages.length < 2}>
          {t("Previous")}
        </button>
        <button type="button" onClick={forward} disabled={!next}>
          {t("Next")}
        </button>
      </nav>
    </section>
  );
}

function NewCustomer({ onError, onCreated, fields }: Props & { onCreated: (c: Customer) => void; fields: CustomField[] }) {
  const [kind, setKind] = useState<"person" | "business">("business");
  const [form, setForm] = useState({ given: "", family: "", legal: "", email: "", phone: "", tags: "" });
  const [typed, setTyped] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<Problem>();
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });

  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const common = { email: form.email, phones: phonesWith([], form.phone), tags: tagsOf(form.tags), customFields: valuesWith(fields, {}, typed) ?? {} };
      const { customer } = await customers.createCustomer({
        customer:
          kind === "business"
            ? { type: CustomerType.BUSINESS, business: { legalName: form.legal }, ...common }
            : { type: CustomerType.INDIVIDUAL, individual: { givenName: form.given, familyName: form.family }, ...common },
        requestId: crypto.randomUUID(),
      });
      if (customer) onCreated(customer);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  const f = problem?.fields ?? {};
  return (
    // The CRM checks every field; its answer is shown beside each (no second set of rules here).
    <form class="card" onSubmit={submit} aria-label={t("New customer")} noValidate>
      <fieldset>
        <legend>{t("Kind")}</legend>
        <label>
          <input type="radio" name="kind" checked={kind === "business"} onChange={() => setKind("business")} /> {t("Business")}
        </label>
        <label>
          <input type="radio" name="kind" checked={kind === "person"} onChange={() => setKind("person")} /> {t("Person")}
        </label>
      </fieldset>
      {kind === "business" ? (
        <Field label={t("Legal name")} name="legal" value={form.legal} onInput={set("legal")} error={f["customer.business.legal_name"]} />
      ) : (
        <>
          <Field label={t("Given name")} name="given" value={form.given} onInput={set("given")} error={f["customer.individual.given_name"]} />
          <Field label={t("Family name")} name="family" value={form.family} onInput={set("family")} error={f["customer.individual.family_name"]} />
        </>
      )}
      <Field label={t("Email")} name="email" type="email" value={form.email} onInput={set("email")} error={f["customer.email"]} />
      <Field label={t("Phone")} name="phone" value={form.phone} onInput={set("phone")} error={f["customer.phones[0].e164_number"] ?? f["customer.phones"]} hint={t("e.g. 012-345 6789 or +65 6123 4567")} />
      <Field label={t("Tags")} name="tags" value={form.tags} onInput={set("tags")} error={f["customer.tags"]} hint={t("Separated by commas, e.g. wholesale, songket")} />
      <CustomFieldInputs fields={fields} typed={typed} onInput={(key, value) => setTyped({ ...typed, [key]: value })} errors={f} name="new" />
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <button type="submit">{t("Save")}</button>
    </form>
  );
}
