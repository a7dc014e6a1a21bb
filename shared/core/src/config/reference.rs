//! `crm config --reference`: every key with its environment variable and default.

use super::{CONVENTIONAL_ENV, Config, Section};

/// Every key with its environment variable and default, as a Markdown table: the reference
/// `crm config --reference` prints and docs/configuration.md carries (a test keeps the two the same).
pub fn reference(sections: &[&Section]) -> String {
    let mut root = serde_json::to_value(Config::default()).unwrap_or_default();
    for section in sections {
        root[section.name] = serde_json::to_value((section.defaults)()).unwrap_or_default();
    }
    let mut rows = Vec::new();
    flatten(&root, "", &mut rows);
    let mut out = String::from("| key | environment | default |\n|---|---|---|\n");
    for (key, default) in rows {
        let env = CONVENTIONAL_ENV
            .iter()
            .find(|(_, path)| *path == key)
            .map(|(var, _)| format!("`{var}`, "))
            .unwrap_or_default();
        let crm = format!(
            "CRM_{}",
            key.replace(".<name>", "__<NAME>")
                .replace('.', "__")
                .to_uppercase()
        );
        out.push_str(&format!("| `{key}` | {env}`{crm}` | {default} |\n"));
    }
    out
}

fn flatten(value: &serde_json::Value, prefix: &str, rows: &mut Vec<(String, String)>) {
    let serde_json::Value::Object(map) = value else {
        return;
    };
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            serde_json::Value::Object(inner) if inner.is_empty() => {
                rows.push((format!("{path}.<name>"), "none".to_owned()))
            }
            serde_json::Value::Object(_) => flatten(value, &path, rows),
            serde_json::Value::Null => rows.push((path, "unset".to_owned())),
            serde_json::Value::String(text) => rows.push((path, format!("`{text}`"))),
            other => rows.push((path, format!("`{other}`"))),
        }
    }
}

/// The keys at the top level: the shared ones and the contexts' sections.
pub(super) fn top_level_keys(sections: &[&Section]) -> Vec<String> {
    let mut keys: Vec<String> = match figment::value::Value::serialize(Config::default()) {
        Ok(figment::value::Value::Dict(_, dict)) => dict.into_keys().collect(),
        _ => Vec::new(),
    };
    keys.extend(sections.iter().map(|s| s.name.to_owned()));
    keys.sort();
    keys
}
