//! The activity context's section of the configuration (`[activity]`, `CRM_ACTIVITY__*`).

use crm_core::Config;
use crm_core::config::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// `[activity]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivityConfig {
    /// How long after logging it an activity's author may still change or delete it, in
    /// minutes (default a day).
    pub edit_window_minutes: u32,
    /// The reminder worker's longest sleep, in milliseconds: how late a reminder added by
    /// another replica may fire here, at worst (default 1000).
    pub reminder_wait_millis: u64,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            edit_window_minutes: 24 * 60,
            reminder_wait_millis: 1000,
        }
    }
}

/// The section's name.
pub const NAME: &str = "activity";

/// The section, for the launcher.
pub static SECTION: Section = Section {
    name: NAME,
    defaults: || {
        figment::value::Value::serialize(ActivityConfig::default()).expect("the defaults serialise")
    },
    check: |config| match ActivityConfig::of(config) {
        Ok(section) => section.problems(),
        Err(e) => e.problems,
    },
};

impl ActivityConfig {
    /// The section of `config`.
    pub fn of(config: &Config) -> Result<ActivityConfig, ConfigError> {
        config.section(NAME)
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.edit_window_minutes > 365 * 24 * 60 {
            problems.push("`activity.edit_window_minutes`: at most a year (525600)".into());
        }
        if !(10..=60_000).contains(&self.reminder_wait_millis) {
            problems
                .push("`activity.reminder_wait_millis`: between 10 and 60000 milliseconds".into());
        }
        problems
    }
}
