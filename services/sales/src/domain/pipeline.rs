//! Pipelines: a tenant's sales processes, each in one currency, with ordered stages that carry a
//! default win probability. One pipeline of a tenant is its default.

use crm_core::TenantId;
use uuid::Uuid;

use super::Millis;

/// The currency a seeded pipeline uses: a new tenant's default (IAM's `TenantSettings`).
pub const SEED_CURRENCY: &str = "MYR";

/// At most this many stages per pipeline.
pub const MAX_STAGES: usize = 50;

/// The stages a new tenant's pipeline starts with: (name, probability).
pub const DEFAULT_STAGES: &[(&str, i32)] = &[
    ("New", 10),
    ("Qualified", 25),
    ("Sample sent", 50),
    ("Proposal", 70),
    ("Negotiation", 90),
];

/// [`DEFAULT_STAGES`] for a workspace that speaks Malay.
pub const DEFAULT_STAGES_MS: &[(&str, i32)] = &[
    ("Baharu", 10),
    ("Layak", 25),
    ("Sampel dihantar", 50),
    ("Sebut harga", 70),
    ("Rundingan", 90),
];

/// The first pipeline's name and stages in a workspace's language (`ms…` Malay, else English).
pub fn seed_words(locale: &str) -> (&'static str, &'static [(&'static str, i32)]) {
    let language = locale.split(['-', '_']).next().unwrap_or_default();
    if language.eq_ignore_ascii_case("ms") {
        ("Jualan", DEFAULT_STAGES_MS)
    } else {
        ("Sales", DEFAULT_STAGES)
    }
}

/// A stage of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Stable across renames and reorders: opportunities point at it.
    pub id: Uuid,
    /// Its name, unique in the pipeline (case-insensitively).
    pub name: String,
    /// Default win probability, 0 to 100.
    pub probability: i32,
}

/// A pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    /// Its id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its name.
    pub name: String,
    /// ISO 4217: every amount in it is in this currency.
    pub currency_code: String,
    /// In order.
    pub stages: Vec<Stage>,
    /// The tenant's default pipeline (conversions land here unless told otherwise).
    pub is_default: bool,
    /// When created.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// The etag.
    pub version: i64,
}

/// A stage as a request gives it: an id to keep an existing stage, none for a new one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageInput {
    /// The stage kept, if any.
    pub id: Option<Uuid>,
    /// Its name.
    pub name: String,
    /// Its probability.
    pub probability: i32,
}

/// A problem with one field: (field, what is wrong).
pub type Violation = (String, String);

fn name(raw: &str) -> Result<String, String> {
    crm_core::text::name(raw, 1, 100)
}

/// Checks stages against the rules; existing ones keep their ids (an unknown id is an error).
pub fn parse_stages(
    inputs: &[StageInput],
    existing: &[Stage],
    problems: &mut Vec<Violation>,
) -> Vec<Stage> {
    if inputs.is_empty() {
        problems.push((
            "stages".into(),
            "a pipeline needs at least one stage".into(),
        ));
    }
    if inputs.len() > MAX_STAGES {
        problems.push((
            "stages".into(),
            format!("at most {MAX_STAGES} stages per pipeline"),
        ));
    }
    let mut stages: Vec<Stage> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let field = |f: &str| format!("stages[{i}].{f}");
        let stage_name = match name(&input.name) {
            Ok(n) => n,
            Err(e) => {
                problems.push((field("name"), e));
                continue;
            }
        };
        if stages
            .iter()
            .any(|s| s.name.to_lowercase() == stage_name.to_lowercase())
        {
            problems.push((field("name"), format!("{stage_name:?} is named twice")));
        }
        if !(0..=100).contains(&input.probability) {
            problems.push((field("probability"), "must be 0 to 100".into()));
        }
        let id = match input.id {
            Some(id) if existing.iter().any(|s| s.id == id) => {
                if stages.iter().any(|s| s.id == id) {
                    problems.push((field("id"), "the same stage is listed twice".into()));
                }
                id
            }
            Some(id) => {
                problems.push((
                    field("id"),
                    format!("{id} is not a stage of this pipeline; leave it empty for a new stage"),
                ));
                id
            }
            None => Uuid::now_v7(),
        };
        stages.push(Stage {
            id,
            name: stage_name,
            probability: input.probability,
        });
    }
    stages
}

impl Pipeline {
    /// A new pipeline, checked.
    pub fn new(
        tenant_id: TenantId,
        pipeline_name: &str,
        currency: &str,
        stages: &[StageInput],
        now: Millis,
    ) -> Result<Pipeline, Vec<Violation>> {
        let mut problems = Vec::new();
        let pipeline_name = name(pipeline_name)
            .map_err(|e| problems.push(("name".into(), e)))
            .unwrap_or_default();
        let currency_code = crm_core::text::currency_code(&currency.trim().to_uppercase())
            .map_err(|e| problems.push(("currency_code".into(), e.into())))
            .unwrap_or_default();
        let stages = parse_stages(stages, &[], &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Pipeline {
            id: Uuid::now_v7(),
            tenant_id,
            name: pipeline_name,
            currency_code,
            stages,
            is_default: false,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }

    /// The pipeline a new tenant starts with: its default, in English and `currency`.
    pub fn seed(tenant_id: TenantId, currency: &str, now: Millis) -> Pipeline {
        Pipeline::seed_in(tenant_id, currency, "", now)
    }

    /// The pipeline a new tenant starts with: its default, in `currency` (MYR when it is not
    /// one), named in the workspace's language (`locale`, see [`seed_words`]).
    pub fn seed_in(tenant_id: TenantId, currency: &str, locale: &str, now: Millis) -> Pipeline {
        let currency =
            crm_core::text::currency_code(currency).unwrap_or_else(|_| SEED_CURRENCY.to_owned());
        let (name, stages) = seed_words(locale);
        let stages: Vec<StageInput> = stages
            .iter()
            .map(|(n, p)| StageInput {
                id: None,
                name: (*n).to_owned(),
                probability: *p,
            })
            .collect();
        let mut pipeline = Pipeline::new(tenant_id, name, &currency, &stages, now)
            .expect("the default stages follow the rules");
        pipeline.is_default = true;
        pipeline
    }

    /// Applies a change: each `Some` replaces its part. Stages removed are returned, for the
    /// caller to check that no open opportunity sits in them.
    pub fn change(
        &mut self,
        new_name: Option<&str>,
        currency: Option<&str>,
        stages: Option<&[StageInput]>,
        now: Millis,
    ) -> Result<Vec<Stage>, Vec<Violation>> {
        let mut problems = Vec::new();
        let new_name =
            new_name.and_then(|n| name(n).map_err(|e| problems.push(("name".into(), e))).ok());
        let currency = currency.and_then(|c| {
            crm_core::text::currency_code(&c.trim().to_uppercase())
                .map_err(|e| problems.push(("currency_code".into(), e.into())))
                .ok()
        });
        let stages = stages.map(|s| parse_stages(s, &self.stages, &mut problems));
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut removed = Vec::new();
        if let Some(n) = new_name {
            self.name = n;
        }
        if let Some(c) = currency {
            self.currency_code = c;
        }
        if let Some(stages) = stages {
            removed = self
                .stages
                .iter()
                .filter(|old| !stages.iter().any(|s| s.id == old.id))
                .cloned()
                .collect();
            self.stages = stages;
        }
        self.updated_at = now;
        self.version += 1;
        Ok(removed)
    }

    /// The first stage, where new opportunities start.
    pub fn first_stage(&self) -> &Stage {
        &self.stages[0]
    }

    /// A stage by id.
    pub fn stage(&self, id: Uuid) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_in_malay_starts_with_its_pipeline_in_malay_and_its_currency() {
        let p = Pipeline::seed_in(TenantId::new(), "SGD", "ms-MY", 5);
        assert_eq!(
            (p.name.as_str(), p.currency_code.as_str()),
            ("Jualan", "SGD")
        );
        let names: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Baharu",
                "Layak",
                "Sampel dihantar",
                "Sebut harga",
                "Rundingan"
            ]
        );
        let english = Pipeline::seed_in(TenantId::new(), "", "en-GB", 5);
        assert_eq!(
            (english.name.as_str(), english.currency_code.as_str()),
            ("Sales", "MYR")
        );
        assert_eq!(english.first_stage().name, "New");
        assert_eq!(seed_words("MS").0, "Jualan");
        assert_eq!(seed_words("msa").0, "Sales", "only Malay's own tag");
        assert_eq!(
            Pipeline::seed_in(TenantId::new(), "ringgit", "", 5).currency_code,
            "MYR"
        );
    }

    fn input(name: &str, probability: i32) -> StageInput {
        StageInput {
            id: None,
            name: name.into(),
            probability,
        }
    }

    #[test]
    fn a_new_tenant_gets_the_batik_makers_stages_as_its_default() {
        let p = Pipeline::seed(TenantId::new(), "MYR", 5);
        assert!(p.is_default);
        let stages: Vec<(&str, i32)> = p
            .stages
            .iter()
            .map(|s| (s.name.as_str(), s.probability))
            .collect();
        assert_eq!(stages, DEFAULT_STAGES);
        assert_eq!(p.first_stage().name, "New");
    }

    #[test]
    fn every_field_is_checked_and_named() {
        let err = Pipeline::new(
            TenantId::new(),
            " ",
            "XYZ",
            &[input("New", 10), input("new", 101), input("", 5)],
            1,
        )
        .unwrap_err();
        let fields: Vec<&str> = err.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "currency_code",
                "stages[1].name",
                "stages[1].probability",
                "stages[2].name"
            ]
        );
        let none = Pipeline::new(TenantId::new(), "Wholesale", "myr", &[], 1).unwrap_err();
        assert_eq!(none[0].0, "stages");
        let many: Vec<StageInput> = (0..=MAX_STAGES)
            .map(|i| input(&format!("S{i}"), 1))
            .collect();
        assert!(Pipeline::new(TenantId::new(), "Wholesale", "MYR", &many, 1).is_err());
        let ok = Pipeline::new(
            TenantId::new(),
            "Wholesale",
            "myr",
            &[input("New", 0), input("Won", 100)],
            1,
        )
        .unwrap();
        assert_eq!(ok.currency_code, "MYR");
    }

    #[test]
    fn renaming_reordering_and_adding_stages_keeps_their_ids() {
        let mut p = Pipeline::seed(TenantId::new(), "MYR", 1);
        let (new, qualified) = (p.stages[0].id, p.stages[1].id);
        let change = vec![
            StageInput {
                id: Some(qualified),
                name: "Qualified lead".into(),
                probability: 30,
            },
            StageInput {
                id: Some(new),
                name: "New".into(),
                probability: 10,
            },
            input("Trade fair", 15),
        ];
        let removed = p.change(Some("Retail"), None, Some(&change), 2).unwrap();
        assert_eq!(
            removed.len(),
            3,
            "Sample sent, Proposal and Negotiation are gone"
        );
        assert_eq!(p.stages[0].id, qualified);
        assert_eq!(p.stages[0].name, "Qualified lead");
        assert_eq!(p.stages[1].id, new);
        assert_eq!(p.name, "Retail");
        assert_eq!(p.version, 2);
        // An id from elsewhere, or one stage twice, is refused and changes nothing.
        let before = p.clone();
        let foreign = vec![StageInput {
            id: Some(Uuid::now_v7()),
            name: "X".into(),
            probability: 1,
        }];
        assert_eq!(
            p.change(None, None, Some(&foreign), 3).unwrap_err()[0].0,
            "stages[0].id"
        );
        let twice = vec![
            StageInput {
                id: Some(new),
                name: "A".into(),
                probability: 1,
            },
            StageInput {
                id: Some(new),
                name: "B".into(),
                probability: 1,
            },
        ];
        assert_eq!(
            p.change(None, None, Some(&twice), 3).unwrap_err()[0].0,
            "stages[1].id"
        );
        assert_eq!(p, before);
    }
}
