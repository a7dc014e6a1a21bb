import { useEffect, useState } from "preact/hooks";
import { countryData, envelopeLines, formatOf, type AddressPart, type CountryData } from "../addressFormat";
import { countries } from "../countries";
import type { CustomerForm } from "../customerForm";
import { Field } from "./Field";
import { t } from "../i18n";

type Props = {
  form: CustomerForm;
  set: (key: keyof CustomerForm) => (value: string) => void;
  /** Field violations by path. */
  errors: Record<string, string | undefined>;
  /** Prefixes the inputs' names (`edit`). */
  name: string;
};

const PATHS: Record<AddressPart, string> = {
  postcode: "customer.addresses[0].postal_code",
  town: "customer.addresses[0].locality",
  state: "customer.addresses[0].administrative_area",
};

/**
 * An address as its country writes it: the country chosen first, then the street, and the
 * parts the country has in its order and by its names (a state among its states, a postcode
 * like its own), and the address as it goes on an envelope. A part the country does not use
 * still shows while it holds something, so nothing typed before is hidden.
 */
export function AddressFields({ form, set, errors, name }: Props) {
  const [data, setData] = useState<CountryData>();
  const country = form.country.trim().toUpperCase();
  useEffect(() => {
    let current = true;
    countryData(country || "MY")
      .then((d) => current && setData(d))
      .catch(() => current && setData(undefined));
    return () => {
      current = false;
    };
  }, [country]);
  const format = formatOf(data);
  const parts = [...format.parts, ...(["postcode", "town", "state"] as const).filter((p) => !format.parts.includes(p) && form[p].trim() !== "")];
  const envelope = envelopeLines(form, data);
  const countryError = errors["customer.addresses[0].region_code"];
  return (
    <fieldset class="address">
      <legend>{t("Address")}</legend>
      <div class="row">
        <div class="field">
          <label for={`field-${name}-country`}>{t("Country")}</label>
          <select
            id={`field-${name}-country`}
            value={country}
            aria-invalid={countryError ? "true" : undefined}
            aria-describedby={countryError ? `field-${name}-country-error` : undefined}
            onChange={(e) => set("country")((e.target as HTMLSelectElement).value)}
          >
            <option value="">—</option>
            {countries().map(([code, label]) => (
              <option key={code} value={code}>
                {label}
              </option>
            ))}
          </select>
          {countryError && (
            <span id={`field-${name}-country-error`} class="field-error">
              {countryError}
            </span>
          )}
        </div>
        <Field label={t("Street")} name={`${name}-street`} value={form.street} onInput={set("street")} error={errors["customer.addresses[0].lines"]} />
        <Field label={t("More of the street")} name={`${name}-street2`} value={form.street2} onInput={set("street2")} />
        {parts.map((part) => (
          <Field
            key={part}
            label={t(format.labels[part])}
            name={`${name}-${part}`}
            value={form[part]}
            onInput={set(part)}
            error={errors[PATHS[part]]}
            list={part === "state" && format.states.length > 0 ? `${name}-states` : undefined}
            hint={part === "postcode" && format.postcodeExample ? t("e.g. {{example}}", { example: format.postcodeExample }) : undefined}
          />
        ))}
        {format.states.length > 0 && (
          <datalist id={`${name}-states`}>
            {format.states.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        )}
      </div>
      {envelope.length > 0 && (
        <div class="envelope">
          <span class="hint">{t("On an envelope")}</span>
          <address translate={false}>
            {envelope.map((line, i) => (
              <span key={i}>
                {line}
                <br />
              </span>
            ))}
          </address>
        </div>
      )}
    </fieldset>
  );
}
