//! The contexts a `crm` binary holds, and what the launcher reads of them: the targets the
//! command line and configuration accept, the configuration's sections, the topics, which
//! contexts a process runs.

use std::path::Path;

use crm_core::authz::Permission;
use crm_core::config::{Config, ConfigError, Overrides, Schema, Section, Target};
use crm_events::bounded::BoundedContext;

/// A list of contexts: the binary's [`CONTEXTS`](crate::CONTEXTS), or that list and more in a
/// test that serves a context of its own.
#[derive(Clone, Copy)]
pub struct Contexts(pub &'static [&'static BoundedContext]);

impl Contexts {
    /// The contexts of this binary.
    pub const BUILT_IN: Contexts = Contexts(&crate::CONTEXTS);

    /// Each context, in the list's order.
    pub fn iter(self) -> impl Iterator<Item = &'static BoundedContext> {
        self.0.iter().copied()
    }

    /// The context called `name`.
    pub fn named(self, name: &str) -> Option<&'static BoundedContext> {
        self.iter().find(|c| c.name == name)
    }

    /// The contexts `config` runs, in the list's order.
    pub fn running(self, config: &Config) -> Vec<&'static BoundedContext> {
        self.iter().filter(|c| config.runs(c.name)).collect()
    }

    /// Their names.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(|c| c.name).collect()
    }

    /// Every context's topic.
    pub fn topics(self) -> Vec<&'static str> {
        self.iter().filter_map(|c| c.topic).collect()
    }

    /// The topics of the contexts that send notices (what notification reads them from).
    pub fn notice_topics(self) -> Vec<&'static str> {
        self.iter()
            .filter(|c| c.sends_notices)
            .filter_map(|c| c.topic)
            .collect()
    }

    /// The permissions every context declares (what IAM hands out).
    pub fn permissions(self) -> Vec<Permission> {
        self.iter()
            .flat_map(|c| c.permissions.iter().copied())
            .collect()
    }

    /// The contexts' own configuration sections (`[iam]`, ...).
    pub fn sections(self) -> Vec<&'static Section> {
        self.iter().filter_map(|c| c.config).collect()
    }

    /// Reads the configuration (see [`Config::load`]), its targets checked against these
    /// contexts and their sections.
    pub fn load_config(
        self,
        file: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let names = self.names();
        let sections = self.sections();
        Config::load(
            file,
            overrides,
            Schema {
                contexts: &names,
                sections: &sections,
            },
        )
    }

    /// Every key of the configuration with its environment variable and default (`crm config
    /// --reference`).
    pub fn reference(self) -> String {
        crm_core::config::reference(&self.sections())
    }

    /// A target as the command line gives it, checked.
    pub fn parse_target(self, raw: &str) -> Result<Target, String> {
        let target = Target::parse(raw);
        let names = self.names();
        let known = Schema {
            contexts: &names,
            sections: &[],
        }
        .targets()
        .join(", ");
        if names.contains(&target.name()) || [Target::ALL, Target::EDGE].contains(&target) {
            Ok(target)
        } else {
            Err(format!("unknown target `{}`; use {known}", raw.trim()))
        }
    }
}
