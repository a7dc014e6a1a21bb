//! The policy engine: RBAC (roles grant permissions) plus ABAC rules over the subject and the
//! resource. Pure and synchronous, so IAM's `CheckPermission` and every other service's
//! in-process check (from the token's claims and the resource's attributes) decide alike.
//!
//! Permissions are `resource.action` (`customers.write`). A grant may be scoped:
//! `opportunities.write:own` allows only resources the subject owns, `:team` only resources of
//! the subject's team. Deny by default; every decision names the rule that decided.

use crate::ids::UserId;

use crate::permission_words::words;
pub use crate::permission_words::{allows, describe};

/// A permission a context defines: its name (`customers.read`), what it allows in words (what
/// `ListPermissions` shows and a custom-role editor explains), and the grants of the built-in
/// roles that hold it. Each context declares its own in its descriptor; IAM hands out those of
/// every context of the binary. Owners hold every permission and admins every one but the
/// owners' own, so only the other built-in roles are named here: `"sales_manager"`,
/// `"sales_rep:own"`, `"viewer"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    /// `resource.action`.
    pub name: &'static str,
    /// What it allows, in words.
    pub allows: &'static str,
    /// The built-in roles (besides owner and admin) that hold it, each with its scope if any.
    pub held_by: &'static [&'static str],
}

/// Who asks.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    /// The user.
    pub user_id: UserId,
    /// Role names.
    pub roles: &'a [String],
    /// Effective permissions (the union of the roles' grants, scopes included).
    pub permissions: &'a [String],
    /// The user's team, if any.
    pub team: Option<&'a str>,
}

/// What the action is on. Empty for checks on the permission alone.
#[derive(Clone, Debug, Default)]
pub struct Resource<'a> {
    /// The owning user.
    pub owner_id: Option<UserId>,
    /// The owner's team.
    pub team: Option<&'a str>,
    /// An amount of money, for amount rules.
    pub amount: Option<Amount<'a>>,
}

/// An amount of money: ISO 4217 currency, whole units and billionths (as `google.type.Money`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount<'a> {
    /// The currency, e.g. `MYR`.
    pub currency: &'a str,
    /// Whole units.
    pub units: i64,
    /// Billionths of a unit, the sign of `units`.
    pub nanos: i32,
}

/// Tenant-wide policy inputs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PolicySettings<'a> {
    /// Winning a deal above this amount needs `deals.approve_large`; 0 = no limit.
    pub deal_approval_threshold_units: i64,
    /// The threshold's currency: the tenant's default currency (empty: not known).
    pub deal_approval_currency: &'a str,
}

impl PolicySettings<'_> {
    /// Whether `amount` is over the large-deal threshold in value. In the threshold's currency
    /// it is compared exactly, fractions included (50,000.01 is over 50,000). No exchange rate
    /// is kept, so an amount in another currency (or with the tenant's currency unknown) is
    /// taken as over: it is never let through unapproved on a guess.
    pub fn over_threshold(&self, amount: &Amount<'_>) -> bool {
        let limit = self.deal_approval_threshold_units;
        if limit <= 0 {
            return false;
        }
        if self.deal_approval_currency.is_empty()
            || !amount
                .currency
                .eq_ignore_ascii_case(self.deal_approval_currency)
        {
            return true;
        }
        amount.units > limit || (amount.units == limit && amount.nanos > 0)
    }
}

/// The kind of rule that decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A role grants the permission outright.
    Rbac,
    /// A grant scoped to the subject's own resources.
    Owner,
    /// A grant scoped to the subject's team's resources.
    Team,
    /// Large deals need `deals.approve_large`.
    LargeDealApproval,
    /// Nothing grants it.
    DefaultDeny,
}

/// The outcome and the rule that produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// Which kind of rule decided.
    pub rule: Rule,
    /// E.g. `rbac:customers.write`, `abac:owner`, `abac:large-deal-approval`, `default-deny`.
    pub decided_by: String,
    /// Words for a log line or an error message.
    pub reason: String,
}

impl Decision {
    fn allow(rule: Rule, name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            allowed: true,
            rule,
            decided_by: name.into(),
            reason: reason.into(),
        }
    }

    fn deny(rule: Rule, name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            rule,
            decided_by: name.into(),
            reason: reason.into(),
        }
    }
}

/// Decides whether `subject` may do `permission` on `resource`.
pub fn evaluate(
    subject: &Subject<'_>,
    permission: &str,
    resource: &Resource<'_>,
    settings: PolicySettings<'_>,
) -> Decision {
    let grant = best_grant(subject.permissions, permission);
    let decision = match grant {
        None => {
            return Decision::deny(
                Rule::DefaultDeny,
                "default-deny",
                match allows(permission) {
                    Some(words) => format!("your roles do not let you {words}"),
                    None => format!("no role grants {permission}"),
                },
            );
        }
        Some(Scope::All) => Decision::allow(
            Rule::Rbac,
            format!("rbac:{permission}"),
            format!("a role grants {permission}"),
        ),
        Some(Scope::Own) => match resource.owner_id {
            Some(owner) if owner == subject.user_id => Decision::allow(
                Rule::Owner,
                "abac:owner",
                format!("{permission} is granted on own resources"),
            ),
            _ => {
                return Decision::deny(
                    Rule::Owner,
                    "abac:owner",
                    format!(
                        "your roles let you {} only for what you own",
                        words(permission)
                    ),
                );
            }
        },
        Some(Scope::Team) => match (resource.team, subject.team) {
            (Some(theirs), Some(ours)) if theirs == ours => Decision::allow(
                Rule::Team,
                "abac:team",
                format!("{permission} is granted on your team's resources"),
            ),
            _ => {
                return Decision::deny(
                    Rule::Team,
                    "abac:team",
                    format!(
                        "your roles let you {} only for your team's",
                        words(permission)
                    ),
                );
            }
        },
    };
    // Constraints that narrow any grant.
    if permission == "opportunities.close"
        && let Some(amount) = &resource.amount
        && settings.over_threshold(amount)
        && best_grant(subject.permissions, "deals.approve_large").is_none()
    {
        let (limit, currency) = (
            settings.deal_approval_threshold_units,
            settings.deal_approval_currency,
        );
        let reason = if currency.is_empty() || amount.currency.eq_ignore_ascii_case(currency) {
            format!(
                "deals above {limit} {currency} need a sales manager's approval: ask one to win it"
            )
        } else {
            format!(
                "deals in {} need a sales manager's approval: ask one to win it (the approval threshold is {limit} {currency}, and no exchange rate is kept)",
                amount.currency
            )
        };
        return Decision::deny(Rule::LargeDealApproval, "abac:large-deal-approval", reason);
    }
    decision
}

/// How far a grant reaches, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Resources the subject owns (`:own`).
    Own,
    /// Resources of the subject's team (`:team`).
    Team,
    /// Every resource of the tenant.
    All,
}

/// The widest scope in which `permissions` grant `permission`; `None` when nothing grants it.
/// A list filters by it: all, the team's, or the subject's own.
pub fn best_grant(permissions: &[String], permission: &str) -> Option<Scope> {
    permissions
        .iter()
        .filter_map(|granted| {
            let (name, scope) = match granted.split_once(':') {
                Some((name, "own")) => (name, Scope::Own),
                Some((name, "team")) => (name, Scope::Team),
                Some(_) => return None,
                None => (granted.as_str(), Scope::All),
            };
            (name == permission).then_some(scope)
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn nothing_is_allowed_without_a_grant() {
        let (roles, permissions) = (perms(&["viewer"]), perms(&["customers.read"]));
        let subject = Subject {
            user_id: UserId::new(),
            roles: &roles,
            permissions: &permissions,
            team: None,
        };
        let d = evaluate(
            &subject,
            "customers.write",
            &Resource::default(),
            PolicySettings::default(),
        );
        assert!(!d.allowed);
        assert_eq!(d.decided_by, "default-deny");
        let d = evaluate(
            &subject,
            "customers.read",
            &Resource::default(),
            PolicySettings::default(),
        );
        assert!(d.allowed);
        assert_eq!(d.decided_by, "rbac:customers.read");
        assert_eq!(d.rule, Rule::Rbac);
    }

    #[test]
    fn an_own_grant_allows_only_what_the_subject_owns() {
        let (roles, permissions) = (perms(&["sales_rep"]), perms(&["opportunities.write:own"]));
        let me = UserId::new();
        let subject = Subject {
            user_id: me,
            roles: &roles,
            permissions: &permissions,
            team: None,
        };
        let mine = Resource {
            owner_id: Some(me),
            ..Default::default()
        };
        let theirs = Resource {
            owner_id: Some(UserId::new()),
            ..Default::default()
        };
        assert_eq!(
            evaluate(
                &subject,
                "opportunities.write",
                &mine,
                PolicySettings::default()
            )
            .decided_by,
            "abac:owner"
        );
        assert!(
            evaluate(
                &subject,
                "opportunities.write",
                &mine,
                PolicySettings::default()
            )
            .allowed
        );
        assert!(
            !evaluate(
                &subject,
                "opportunities.write",
                &theirs,
                PolicySettings::default()
            )
            .allowed
        );
        assert!(
            !evaluate(
                &subject,
                "opportunities.write",
                &Resource::default(),
                PolicySettings::default()
            )
            .allowed
        );
    }

    #[test]
    fn a_team_grant_allows_the_teams_resources() {
        let (roles, permissions) = (perms(&["lead"]), perms(&["leads.assign:team"]));
        let subject = Subject {
            user_id: UserId::new(),
            roles: &roles,
            permissions: &permissions,
            team: Some("kuantan"),
        };
        let ours = Resource {
            team: Some("kuantan"),
            ..Default::default()
        };
        let other = Resource {
            team: Some("kota-bharu"),
            ..Default::default()
        };
        assert!(evaluate(&subject, "leads.assign", &ours, PolicySettings::default()).allowed);
        assert!(!evaluate(&subject, "leads.assign", &other, PolicySettings::default()).allowed);
    }

    #[test]
    fn the_widest_grant_wins() {
        let (roles, permissions) = (
            perms(&["a", "b"]),
            perms(&["opportunities.write:own", "opportunities.write"]),
        );
        let subject = Subject {
            user_id: UserId::new(),
            roles: &roles,
            permissions: &permissions,
            team: None,
        };
        let theirs = Resource {
            owner_id: Some(UserId::new()),
            ..Default::default()
        };
        assert!(
            evaluate(
                &subject,
                "opportunities.write",
                &theirs,
                PolicySettings::default()
            )
            .allowed
        );
    }

    #[test]
    fn large_deals_need_approval_rights() {
        let settings = PolicySettings {
            deal_approval_threshold_units: 50_000,
            deal_approval_currency: "MYR",
        };
        let me = UserId::new();
        let myr = |units, nanos| Amount {
            currency: "MYR",
            units,
            nanos,
        };
        let big = Resource {
            owner_id: Some(me),
            amount: Some(myr(80_000, 0)),
            ..Default::default()
        };
        let small = Resource {
            owner_id: Some(me),
            amount: Some(myr(8_000, 0)),
            ..Default::default()
        };

        let (roles, rep) = (perms(&["sales_rep"]), perms(&["opportunities.close:own"]));
        let subject = Subject {
            user_id: me,
            roles: &roles,
            permissions: &rep,
            team: None,
        };
        assert!(evaluate(&subject, "opportunities.close", &small, settings).allowed);
        let d = evaluate(&subject, "opportunities.close", &big, settings);
        assert!(!d.allowed);
        assert_eq!(d.decided_by, "abac:large-deal-approval");

        let manager = perms(&["opportunities.close", "deals.approve_large"]);
        let subject = Subject {
            user_id: UserId::new(),
            roles: &roles,
            permissions: &manager,
            team: None,
        };
        assert!(evaluate(&subject, "opportunities.close", &big, settings).allowed);
    }

    #[test]
    fn the_threshold_weighs_fractions_and_never_guesses_a_currency() {
        let settings = PolicySettings {
            deal_approval_threshold_units: 50_000,
            deal_approval_currency: "MYR",
        };
        let at = |currency, units, nanos| Amount {
            currency,
            units,
            nanos,
        };
        assert!(
            !settings.over_threshold(&at("MYR", 50_000, 0)),
            "at it is not over"
        );
        assert!(
            settings.over_threshold(&at("MYR", 50_000, 10_000_000)),
            "50,000.01"
        );
        assert!(!settings.over_threshold(&at("myr", 49_999, 990_000_000)));
        // KWD 49,999 is worth about MYR 700,000: another currency is never let through on a
        // guess, however small its number.
        assert!(settings.over_threshold(&at("KWD", 49_999, 0)));
        assert!(settings.over_threshold(&at("SGD", 1, 0)));
        let unknown = PolicySettings {
            deal_approval_currency: "",
            ..settings
        };
        assert!(unknown.over_threshold(&at("MYR", 1, 0)));
        assert!(!PolicySettings::default().over_threshold(&at("KWD", 1_000_000, 0)));

        let (roles, rep) = (perms(&["sales_rep"]), perms(&["opportunities.close:own"]));
        let me = UserId::new();
        let subject = Subject {
            user_id: me,
            roles: &roles,
            permissions: &rep,
            team: None,
        };
        let kwd = Resource {
            owner_id: Some(me),
            amount: Some(at("KWD", 49_999, 0)),
            ..Default::default()
        };
        let d = evaluate(&subject, "opportunities.close", &kwd, settings);
        assert!(!d.allowed);
        assert!(d.reason.contains("deals in KWD"), "{}", d.reason);
    }
}
