use super::*;
use crate::domain::built_in::BUILT_IN;
use crate::domain::catalogue::USER_CREATED;

fn input(subject: &str, body: &str) -> TemplateInput {
    TemplateInput {
        name: "welcome".into(),
        channel: Some(Channel::Email),
        event_type: USER_CREATED.into(),
        locale: "en".into(),
        subject: subject.into(),
        body: body.into(),
        enabled: true,
    }
}

fn problems(subject: &str, body: &str) -> Vec<Violation> {
    Template::new(TenantId::new(), input(subject, body), 0).unwrap_err()
}

#[test]
fn every_built_in_passes_its_own_check() {
    for b in BUILT_IN {
        let kind = catalogue::event(b.event_type).unwrap();
        assert_eq!(check(kind, b.subject, b.body), Vec::new(), "{}", b.name);
    }
}

#[test]
fn bad_syntax_names_the_line_and_column() {
    let p = problems("Hi", "Hello\n  {{ user_name ");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "body_template");
    assert!(p[0].1.starts_with("line 2, column"), "{}", p[0].1);
}

#[test]
fn an_unknown_variable_is_named_with_the_ones_given() {
    let p = problems("Hi {{ customer_name }}", "ok");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "subject_template");
    assert!(
        p[0].1.starts_with("line 1, column 7: `customer_name`"),
        "{}",
        p[0].1
    );
    assert!(p[0].1.contains("user_name, user_email"), "{}", p[0].1);
}

#[test]
fn output_and_work_are_bounded() {
    let p = problems(
        "Hi",
        "{% for i in range(2000) %}{{ user_name }}{% endfor %}",
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].1.contains("at most") || p[0].1.contains("too much work"),
        "{}",
        p[0].1
    );
    let p = problems("{{ user_name * 10 }}", "ok");
    assert!(p[0].1.contains("at most 255"), "{}", p[0].1);
}

#[test]
fn no_file_is_reachable() {
    let p = problems("Hi", "{% include '/etc/passwd' %}");
    assert_eq!(p.len(), 1, "{p:?}");
}

#[test]
fn rendering_fills_the_variables() {
    let vars = BTreeMap::from([
        ("user_name", "Siti".to_string()),
        ("user_email", "siti@example.com".to_string()),
        ("tenant_name", "Kilang Desa Murni Batik".to_string()),
    ]);
    let out = BUILT_IN[0]
        .template(TenantId::new(), 0)
        .render(&vars)
        .unwrap();
    assert_eq!(out.subject, "Welcome to Kilang Desa Murni Batik");
    assert!(out.body.starts_with("Hello Siti,"));
    assert!(out.body.contains("(siti@example.com)"));
}

#[test]
fn the_tenants_locale_picks_then_its_language_then_english() {
    let tenant = TenantId::new();
    let en = BUILT_IN[0].template(tenant, 0);
    let ms = BUILT_IN[1].template(tenant, 0);
    let both = [en.clone(), ms.clone()];
    assert_eq!(pick(&both, "ms-MY").unwrap().locale, "ms");
    assert_eq!(pick(&both, "en-GB").unwrap().locale, "en");
    assert_eq!(pick(&both, "zh-CN").unwrap().locale, "en");
    let mut off = ms.clone();
    off.enabled = false;
    assert!(pick(&[en, off], "ms-MY").is_none(), "disabled means none");
}

#[test]
fn a_template_needs_a_known_event_a_channel_and_a_locale() {
    let p = Template::new(
        TenantId::new(),
        TemplateInput {
            name: " ".into(),
            channel: None,
            event_type: "nope".into(),
            locale: "xx-!!".into(),
            subject: String::new(),
            body: String::new(),
            enabled: true,
        },
        0,
    )
    .unwrap_err();
    let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "name",
            "channel",
            "event_type",
            "locale",
            "subject_template",
            "body_template"
        ]
    );
}
