use figment::Jail;

use super::*;

/// A context's section, as a context crate declares one.
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct WidgetConfig {
    size: u32,
    label: String,
}

static WIDGET: Section = Section {
    name: "widget",
    defaults: || {
        figment::value::Value::serialize(WidgetConfig {
            size: 3,
            label: "canting".into(),
        })
        .unwrap()
    },
    check: |config| match config.section::<WidgetConfig>("widget") {
        Err(e) => e.problems,
        Ok(w) if w.size == 0 => vec!["`widget.size`: must be at least 1".into()],
        Ok(_) => Vec::new(),
    },
};

#[test]
fn a_context_section_has_its_defaults_and_its_own_checks() {
    let config = load_in(|_| Ok(()), None, Overrides::default()).unwrap();
    assert_eq!(
        config.section::<WidgetConfig>("widget").unwrap(),
        WidgetConfig {
            size: 3,
            label: "canting".into()
        }
    );
    assert!(config.to_redacted_toml().contains("[widget]"));

    let config = load_in(
        |jail| {
            jail.set_env("CRM_WIDGET__SIZE", "7");
            Ok(())
        },
        None,
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(config.section::<WidgetConfig>("widget").unwrap().size, 7);
    assert_eq!(
        config.section::<WidgetConfig>("widget").unwrap().label,
        "canting",
        "keys not given keep their defaults"
    );

    let err = load_in(
        |_| Ok(()),
        Some("[widget]\nsize = 0\n"),
        Overrides::default(),
    )
    .unwrap_err();
    assert_eq!(err.problems, ["`widget.size`: must be at least 1"]);
}

#[test]
fn keys_no_context_declares_are_refused_by_name() {
    let err = load_in(
        |_| Ok(()),
        Some("colour = \"red\"\n[widget]\nsizee = 4\n"),
        Overrides::default(),
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 2, "{:?}", err.problems);
    assert!(
        err.problems[0].starts_with("`colour`: unknown key; the keys at the top level are ")
            && err.problems[0].contains("widget"),
        "{:?}",
        err.problems
    );
    assert!(
        err.problems[1].starts_with("`widget.sizee`") && err.problems[1].contains("unknown key"),
        "{:?}",
        err.problems
    );
}

/// A binary with two contexts, the second with the widget section.
const SCHEMA: Schema<'static> = Schema {
    contexts: &["iam", "sales"],
    sections: &[&WIDGET],
};

fn load_in(
    jail_setup: impl FnOnce(&mut Jail) -> figment::Result<()>,
    file: Option<&str>,
    overrides: Overrides,
) -> Result<Config, ConfigError> {
    let mut outcome = None;
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail_setup(jail)?;
        let path = file.map(|text| {
            jail.create_file("crm.toml", text).unwrap();
            PathBuf::from("crm.toml")
        });
        outcome = Some(Config::from_figment(
            Config::figment(path.as_deref(), &overrides, SCHEMA),
            SCHEMA,
        ));
        Ok(())
    });
    outcome.unwrap()
}

#[test]
fn defaults_run_everything_embedded_on_the_documented_port() {
    let config = load_in(|_| Ok(()), None, Overrides::default()).unwrap();
    assert_eq!(config.listen, "127.0.0.1:50051".parse().unwrap());
    assert_eq!(config.target, [Target::ALL]);
    for part in ["iam", "sales", "edge"] {
        assert!(config.runs(part), "{part}");
    }
    assert!(config.database.url.is_none());
    assert_eq!(config.data_dir, PathBuf::from("./data"));
}

#[test]
fn file_then_environment_then_flags_take_precedence() {
    let file = "listen = \"127.0.0.1:6000\"\ndata_dir = \"/srv/crm\"\ntarget = [\"iam\"]\n";
    let env = |jail: &mut Jail| {
        jail.set_env("CRM_LISTEN", "127.0.0.1:7000");
        jail.set_env("CRM_LOG__FORMAT", "json");
        Ok(())
    };
    let config = load_in(env, Some(file), Overrides::default()).unwrap();
    assert_eq!(
        config.listen,
        "127.0.0.1:7000".parse().unwrap(),
        "environment beats file"
    );
    assert_eq!(
        config.data_dir,
        PathBuf::from("/srv/crm"),
        "file beats defaults"
    );
    assert_eq!(config.target, [Target::named("iam")]);
    assert_eq!(config.log.format, LogFormat::Json);

    let flags = Overrides {
        listen: Some("127.0.0.1:8000".parse().unwrap()),
        ..Default::default()
    };
    let env = |jail: &mut Jail| {
        jail.set_env("CRM_LISTEN", "127.0.0.1:7000");
        Ok(())
    };
    let config = load_in(env, Some(file), flags).unwrap();
    assert_eq!(
        config.listen,
        "127.0.0.1:8000".parse().unwrap(),
        "flags beat environment"
    );
}

#[test]
fn targets_come_as_a_comma_separated_list() {
    let env = |jail: &mut Jail| {
        jail.set_env("CRM_TARGET", "iam,sales");
        Ok(())
    };
    let config = load_in(env, None, Overrides::default()).unwrap();
    assert_eq!(
        config.target,
        [Target::named("iam"), Target::named("sales")]
    );
    assert!(config.runs("iam") && config.runs("sales"));
    assert!(!config.runs("edge"), "only what is named runs");
}

#[test]
fn conventional_variables_fill_their_keys() {
    let env = |jail: &mut Jail| {
        jail.set_env("DATABASE_URL", "postgres://crm:s3cret@db:5432/crm");
        jail.set_env("KAFKA_BROKERS", "127.0.0.1:9092");
        Ok(())
    };
    let config = load_in(env, None, Overrides::default()).unwrap();
    assert_eq!(
        config.database.url.as_ref().unwrap().expose(),
        "postgres://crm:s3cret@db:5432/crm"
    );
    assert_eq!(config.kafka.brokers.as_deref(), Some("127.0.0.1:9092"));
}

#[test]
fn a_bad_value_names_its_key_and_its_environment_variable() {
    let env = |jail: &mut Jail| {
        jail.set_env("CRM_LISTEN", "localhost-ish");
        Ok(())
    };
    let err = load_in(env, None, Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`listen`"), "{err}");
    assert!(err.contains("CRM_LISTEN"), "{err}");
    assert!(
        err.contains("127.0.0.1:50051"),
        "the hint shows a valid value: {err}"
    );
}

#[test]
fn an_unknown_target_or_key_is_refused() {
    let env = |jail: &mut Jail| {
        jail.set_env("CRM_TARGET", "iam,billing");
        Ok(())
    };
    let err = load_in(env, None, Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown target `billing`"), "{err}");
    assert!(
        err.contains("the targets are all, iam, sales, edge"),
        "the schema's contexts are the targets: {err}"
    );

    let err = load_in(
        |_| Ok(()),
        Some("lisen = \"127.0.0.1:1\"\n"),
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("lisen"), "{err}");
}

#[test]
fn validation_names_the_key() {
    let env = |jail: &mut Jail| {
        jail.set_env("DATABASE_URL", "mysql://root@localhost/crm");
        jail.set_env("CRM_LOG__LEVEL", "info,[");
        Ok(())
    };
    let err = load_in(env, None, Overrides::default()).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems.iter().any(|p| p.starts_with("`database.url`")),
        "{err}"
    );
    assert!(
        err.problems.iter().any(|p| p.starts_with("`log.level`")),
        "{err}"
    );
}

#[test]
fn secrets_are_redacted_when_printed() {
    let secret = Secret::new("postgres://crm:s3cret@db:5432/crm?sslmode=require");
    assert_eq!(
        secret.redacted(),
        "postgres://crm:****@db:5432/crm?sslmode=require"
    );
    assert_eq!(
        format!("{secret:?}"),
        "postgres://crm:****@db:5432/crm?sslmode=require"
    );
    assert_eq!(Secret::new("plain-token").redacted(), "<redacted>");
    let config = Config {
        database: DatabaseConfig {
            url: Some(secret),
            max_connections: 5,
            app_role: String::new(),
        },
        ..Config::default()
    };
    let printed = config.to_redacted_toml();
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(!format!("{config:?}").contains("s3cret"));
}
