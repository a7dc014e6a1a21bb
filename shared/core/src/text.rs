//! Text rules every context applies to what people type: names, email addresses, and the codes
//! of tenant settings (IANA time zones, BCP 47 locales, ISO 4217 currencies), checked against the
//! maintained lists rather than by shape alone.
//!
//! Each rule returns the normalised value or a short problem for a field violation.

use unicode_normalization::UnicodeNormalization;

/// Characters that reorder text (bidirectional controls): in a name they make one string
/// display as another ("Trojan Source").
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Invisible characters with no place in a name. Zero-width joiners (U+200C, U+200D) stay
/// allowed: several scripts and emoji need them between visible characters.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}'
    )
}

/// A name people read (tenant, user, role, customer): Unicode NFC, trimmed, `min..=max`
/// characters, no control characters (NUL, tabs, line breaks), no bidirectional controls or
/// invisible characters, and at least one letter or digit.
pub fn name(raw: &str, min: usize, max: usize) -> Result<String, String> {
    let name: String = raw.trim().nfc().collect();
    let count = name.chars().count();
    if count == 0 {
        return Err("must not be empty".into());
    }
    if count < min {
        return Err(format!("must be at least {min} characters"));
    }
    if count > max {
        return Err(format!("must be at most {max} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters (NUL, tabs, line breaks)".into());
    }
    if name.chars().any(is_bidi_control) {
        return Err(
            "must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069)"
                .into(),
        );
    }
    if name.chars().any(is_invisible) {
        return Err(
            "must not contain invisible characters (zero-width space, soft hyphen, BOM)".into(),
        );
    }
    if !name.chars().any(char::is_alphanumeric) {
        return Err("must contain at least one letter or digit".into());
    }
    Ok(name)
}

const EMAIL_SHAPE: &str = "must be an email address like name@example.com";

/// An email address, trimmed and lowercased. Strict on purpose: ASCII only (international domains
/// in their `xn--` form), a local part of RFC 5322 `atext` and dots, a domain of at least two
/// labels of letters, digits and inner hyphens. This refuses look-alike and invisible characters
/// (full-width letters, U+202E, U+200B) and markup (`<script>@x.example`).
pub fn email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_ascii_lowercase();
    if email.is_empty() {
        return Err("must not be empty");
    }
    if email.len() > 254 {
        return Err("must be at most 254 characters");
    }
    if !email.is_ascii() {
        return Err(
            "must use ASCII characters only; write an international domain in its xn-- form",
        );
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(EMAIL_SHAPE);
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| atext(c) || c == '.');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()));
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(EMAIL_SHAPE)
    }
}

/// An IANA time zone name from the tz database (e.g. `Asia/Kuala_Lumpur`).
pub fn time_zone(raw: &str) -> Result<String, &'static str> {
    raw.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| "must be an IANA time zone like Asia/Kuala_Lumpur")
}

/// A BCP 47 locale whose language is an ISO 639 language (e.g. `ms-MY`, `en`, `zh-Hant-TW`),
/// in its canonical form.
pub fn locale(raw: &str) -> Result<String, &'static str> {
    const PROBLEM: &str = "must be a BCP 47 locale of a known language, like ms-MY or en";
    if raw.is_empty() || raw.len() > 35 {
        return Err(PROBLEM);
    }
    let locale = icu_locale_core::Locale::try_from_str(raw).map_err(|_| PROBLEM)?;
    let language = locale.id.language.as_str();
    let known = match language.len() {
        2 => isolang::Language::from_639_1(language).is_some(),
        3 => isolang::Language::from_639_3(language).is_some(),
        _ => false,
    };
    if known {
        Ok(locale.to_string())
    } else {
        Err(PROBLEM)
    }
}

/// `units` and `nanos` of `currency` as people write money: `MYR 25,000.00`.
pub fn money(currency: &str, units: i64, nanos: i32) -> String {
    let cents = i128::from(units) * 100 + i128::from(nanos) / 10_000_000;
    let (sign, cents) = if cents < 0 {
        ("-", -cents)
    } else {
        ("", cents)
    };
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{currency} {sign}{grouped}.{:02}", cents % 100)
}

/// An active ISO 4217 currency code (e.g. `MYR`).
pub fn currency_code(raw: &str) -> Result<String, &'static str> {
    iso_currency::Currency::from_code(raw)
        .map(|c| c.code().to_owned())
        .ok_or("must be an ISO 4217 currency code like MYR")
}

/// A phone number in E.164 (`+60123456789`). A number without a country code is read as
/// Malaysian (the default region of the first tenant); anything not a valid number of its
/// country is refused.
pub fn phone(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if raw.len() > 40 {
        return Err("must be at most 40 characters".into());
    }
    let parsed = phonenumber::parse(Some(phonenumber::country::Id::MY), raw)
        .map_err(|_| "must be a phone number, e.g. +60 12-345 6789".to_owned())?;
    if !phonenumber::is_valid(&parsed) {
        return Err("is not a valid phone number of its country; include the country code, e.g. +60 12-345 6789".into());
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// A number kept in E.164 (see [`phone`]) as people read it, in its country's international
/// format: `+60123456789` → `+60 12-345 6789`. A number that no longer parses (metadata changed
/// since it was kept) reads as kept.
pub fn phone_display(e164: &str) -> String {
    phonenumber::parse(None, e164)
        .map(|n| {
            n.format()
                .mode(phonenumber::Mode::International)
                .to_string()
        })
        .unwrap_or_else(|_| e164.to_owned())
}

/// The most tags a record (customer, lead) may carry.
pub const MAX_TAGS: usize = 50;
/// The longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;

/// Tags: trimmed, lower-cased, each once, in order; none empty.
pub fn tags(raw: &[String]) -> Result<Vec<String>, String> {
    if raw.len() > MAX_TAGS {
        return Err(format!("must be at most {MAX_TAGS} tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for tag in raw {
        let tag = name(tag, 1, MAX_TAG_CHARS)
            .map_err(|e| format!("{tag:?} {e}"))?
            .to_lowercase();
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// The key a list by name is ordered by, as people read names: lower-cased, and each run of
/// digits as the count of its digits (two of them) then the number without leading zeros, so
/// "Borong Kain 2" comes before "Borong Kain 10" ("Kedai 7" and "Kedai 007" have one key, and
/// their ids order them). Digits still come before letters. A key is compared byte by
/// byte (stores index it); a run longer than 99 digits counts as 99.
pub fn sort_key(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut key = String::with_capacity(lower.len() + 8);
    let mut rest = lower.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        key.push_str(&rest[..start]);
        let run = &rest[start..];
        let end = run.find(|c: char| !c.is_ascii_digit()).unwrap_or(run.len());
        let digits = run[..end].trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        key.push_str(&format!("{:02}", digits.len().min(99)));
        key.push_str(digits);
        rest = &run[end..];
    }
    key.push_str(rest);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_their_numbers_as_people_read_them() {
        assert_eq!(sort_key("Borong Kain 2"), "borong kain 012");
        assert_eq!(sort_key("Borong Kain 10"), "borong kain 0210");
        assert_eq!(sort_key("Kedai 007"), "kedai 017");
        assert_eq!(sort_key("Unit 0"), "unit 010");
        assert_eq!(sort_key("Batik Ṡiti"), "batik ṡiti");
        let mut names = [
            "Borong Kain 10",
            "borong kain 2",
            "Borong Kain",
            "Borong Kain 2a",
            "Borong Kain 1.5",
            "Borong Kain 9",
            "Borong Kain 100",
            "Borong 3 Kain",
            "Anggun",
        ];
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(
            names,
            [
                "Anggun",
                "Borong 3 Kain",
                "Borong Kain",
                "Borong Kain 1.5",
                "borong kain 2",
                "Borong Kain 2a",
                "Borong Kain 9",
                "Borong Kain 10",
                "Borong Kain 100",
            ]
        );
        let long = "9".repeat(120);
        assert_eq!(sort_key(&long), format!("99{long}"));
    }

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(money("MYR", 25_000, 0), "MYR 25,000.00");
        assert_eq!(money("MYR", 1_234_567, 890_000_000), "MYR 1,234,567.89");
        assert_eq!(money("USD", 0, 50_000_000), "USD 0.05");
        assert_eq!(money("MYR", 999, 0), "MYR 999.00");
    }

    #[test]
    fn names_refuse_control_bidi_and_invisible_characters() {
        assert_eq!(
            name("  Kilang Desa Murni Batik ", 2, 100).unwrap(),
            "Kilang Desa Murni Batik"
        );
        assert_eq!(name("Batik Ṡiti", 2, 100).unwrap(), "Batik Ṡiti");
        for bad in [
            "Kilang\0Batik",
            "Kilang\r\nBatik",
            "Kilang\tBatik",
            "\u{202E}\u{2066}\u{200B}",
            "\u{200B}\u{200B}\u{200B}",
            "Batik\u{202E}kilaB",
            "--",
            "",
            "x",
        ] {
            assert!(name(bad, 2, 100).is_err(), "{bad:?}");
        }
        assert!(name(&"a".repeat(101), 2, 100).is_err());
    }

    #[test]
    fn names_are_nfc_so_equal_text_compares_equal() {
        let decomposed = "Sit\u{0069}\u{0301}";
        assert_eq!(name(decomposed, 2, 100).unwrap(), "Sit\u{00ED}");
    }

    #[test]
    fn emails_are_strict_ascii_addresses() {
        assert_eq!(
            email(" Siti@Kilang.Example ").unwrap(),
            "siti@kilang.example"
        );
        assert!(email("o'brien+crm@xn--bcher-kva.example").is_ok());
        for bad in [
            "",
            "siti",
            "siti@",
            "@kilang.example",
            "siti@kilang",
            "si ti@kilang.example",
            "a@b..c",
            "<script>@x.example",
            "siti\u{202E}@kilang.example",
            "si\u{200B}ti@kilang.example",
            "ｓｉｔｉ@kilang.example",
            "siti@kilang.123",
            ".siti@kilang.example",
            "siti@-kilang.example",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn settings_codes_come_from_the_maintained_lists() {
        assert_eq!(time_zone("Asia/Kuala_Lumpur").unwrap(), "Asia/Kuala_Lumpur");
        for bad in [
            "Mars/Olympus",
            "../../etc/passwd",
            "",
            "Asia/Kuala_Lumpur\0",
        ] {
            assert!(time_zone(bad).is_err(), "{bad:?}");
        }
        assert_eq!(locale("ms-MY").unwrap(), "ms-MY");
        assert_eq!(locale("en").unwrap(), "en");
        assert_eq!(locale("zh-Hant-TW").unwrap(), "zh-Hant-TW");
        for bad in ["", "xx-YY", "../../etc", "english", "ms_MY!"] {
            assert!(locale(bad).is_err(), "{bad:?}");
        }
        assert_eq!(currency_code("MYR").unwrap(), "MYR");
        for bad in ["XYZ", "myr", "", "MYRR"] {
            assert!(currency_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phones_read_as_people_write_them() {
        for (typed, shown) in [
            ("012-345 6789", "+60 12-345 6789"),
            ("03-8765 4321", "+60 3-8765 4321"),
            ("09-622 1234", "+60 9-622 1234"),
            ("+65 6123 4567", "+65 6123 4567"),
        ] {
            let kept = phone(typed).unwrap();
            assert_eq!(phone_display(&kept), shown, "{typed}");
            // What is shown is read back as the same number.
            assert_eq!(phone(shown).unwrap(), kept);
        }
        assert_eq!(phone_display("not a number"), "not a number");
    }
}
