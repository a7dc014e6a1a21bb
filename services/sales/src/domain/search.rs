//! Finding leads and opportunities by a piece of their text (`ListLeads`' and
//! `ListOpportunities`' `query`): each keeps its searchable words, lower-cased, in a column of
//! its own, and a query is a `like` pattern over it (the store escapes nothing else).

use crm_core::{Error, Result};

/// The longest query, in characters.
pub const MAX_QUERY: usize = 200;

/// What a record is found by: its texts lower-cased, each on its own, one space between words.
pub fn text<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .flat_map(str::split_whitespace)
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `like` pattern (escaped with `\`) of `query`, or `None` for an empty one; a query longer
/// than [`MAX_QUERY`] is refused on the field `query`.
pub fn pattern(query: &str) -> Result<Option<String>> {
    if query.chars().count() > MAX_QUERY {
        return Err(Error::invalid_field(
            "query",
            format!("at most {MAX_QUERY} characters"),
        ));
    }
    let words = text([query]);
    if words.is_empty() {
        return Ok(None);
    }
    let mut out = String::with_capacity(words.len() + 2);
    out.push('%');
    for c in words.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_records_words_are_lower_cased_with_one_space_between() {
        assert_eq!(
            text(["  Hotel  SERI\tMalaysia ", "", "Aisyah@Hotel.Example"]),
            "hotel seri malaysia aisyah@hotel.example"
        );
        assert_eq!(text(["Ömer ÇELİK"]), "ömer çeli̇k");
    }

    #[test]
    fn a_query_is_a_pattern_with_its_wildcards_escaped() {
        assert_eq!(
            pattern("  Seri   MALAY ").unwrap().as_deref(),
            Some("%seri malay%")
        );
        assert_eq!(
            pattern("50%_off\\").unwrap().as_deref(),
            Some("%50\\%\\_off\\\\%")
        );
        assert_eq!(pattern(" \t ").unwrap(), None);
        assert_eq!(
            pattern(&"a".repeat(MAX_QUERY)).unwrap().map(|p| p.len()),
            Some(MAX_QUERY + 2)
        );
        let refused = pattern(&"a".repeat(MAX_QUERY + 1)).unwrap_err();
        assert!(refused.to_string().contains("query"), "{refused}");
    }
}
