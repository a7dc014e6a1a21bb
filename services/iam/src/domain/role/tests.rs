use super::*;

/// A catalog as the launcher gives IAM: its own and other contexts' permissions (a few of the
/// customer and sales contexts', as declared there).
fn catalog() -> Catalog {
    Catalog::new([
        Permission {
            name: "customers.export",
            allows: "export customers",
            held_by: &["sales_manager"],
        },
        Permission {
            name: "customers.read",
            allows: "read customers and contacts",
            held_by: &["sales_manager", "sales_rep:own", "viewer"],
        },
        Permission {
            name: "leads.convert",
            allows: "convert leads",
            held_by: &["sales_manager", "sales_rep:own"],
        },
        Permission {
            name: "leads.write",
            allows: "create and change leads",
            held_by: &["sales_manager", "sales_rep:own"],
        },
        Permission {
            name: "opportunities.write",
            allows: "create, change and move opportunities",
            held_by: &["sales_manager", "sales_rep:own"],
        },
    ])
}

fn built_in_permissions(role: &str) -> Option<Vec<String>> {
    catalog().built_in(role)
}

fn parse_grant(raw: &str) -> Result<String, String> {
    catalog().parse_grant(raw)
}

#[test]
fn every_built_in_grant_is_in_the_catalog() {
    for (role, _) in BUILT_IN_ROLES {
        for grant in built_in_permissions(role).unwrap() {
            assert!(parse_grant(&grant).is_ok(), "{role}: {grant}");
        }
    }
}

#[test]
fn owners_hold_everything_and_admins_all_but_tenant_settings() {
    let owner = built_in_permissions("owner").unwrap();
    let admin = built_in_permissions("admin").unwrap();
    assert_eq!(owner.len(), catalog().permissions().len());
    assert!(!admin.contains(&"tenant.manage".to_owned()));
    assert_eq!(admin.len(), catalog().permissions().len() - 1);
}

#[test]
fn custom_role_names_and_grants_are_checked() {
    assert!(parse_role_name("batik_designer").is_ok());
    assert!(parse_role_name("Batik").is_err());
    assert!(parse_role_name("admin").is_err());
    assert!(parse_grant("customers.read").is_ok());
    assert!(parse_grant("leads.write:own").is_ok());
    assert!(parse_grant("leads.write:everything").is_err());
    assert!(parse_grant("rockets.launch").is_err());
}

#[test]
fn nobody_hands_out_what_they_do_not_hold_and_only_owners_hand_out_owner_rights() {
    let admin = built_in_permissions("admin").unwrap();
    let owner = built_in_permissions("owner").unwrap();
    let rep = built_in_permissions("sales_rep").unwrap();
    let grants = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        first_escalation(&admin, false, &grants(&["customers.read", "tenant.manage"])),
        Some("tenant.manage")
    );
    assert_eq!(
        first_escalation(&owner, true, &grants(&["tenant.manage"])),
        None
    );
    assert_eq!(
        first_escalation(&admin, false, &grants(&["leads.write:own", "users.manage"])),
        None
    );
    assert_eq!(
        first_escalation(&rep, false, &grants(&["opportunities.write:own"])),
        None
    );
    assert_eq!(
        first_escalation(&rep, false, &grants(&["opportunities.write"])),
        Some("opportunities.write")
    );
    assert_eq!(
        first_escalation(&rep, false, &grants(&["leads.convert:team"])),
        Some("leads.convert:team")
    );
}

#[test]
fn a_custom_role_is_created_and_changed_by_its_rules() {
    let grants = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let catalog = catalog();
    let mut role = CustomRole::create(
        &catalog,
        TenantId::new(),
        "exporter",
        " exports ",
        &grants(&["customers.export", "customers.export"]),
        1_000,
    )
    .unwrap();
    assert_eq!(
        (role.description.as_str(), role.permissions.len()),
        ("exports", 1)
    );
    let fields: Vec<_> = CustomRole::create(&catalog, TenantId::new(), "Admin!", "", &[], 0)
        .unwrap_err()
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(fields, ["role.name", "role.permissions"]);
    assert!(!role.apply(&catalog, Some("csv exports"), None).unwrap());
    assert!(
        role.apply(&catalog, None, Some(&grants(&["customers.read"])))
            .unwrap()
    );
    assert!(
        role.apply(&catalog, None, Some(&grants(&["rockets.launch"])))
            .is_err()
    );
    assert_eq!(
        role.permissions,
        ["customers.read"],
        "a refused change changes nothing"
    );
    role.touch(2_000);
    assert_eq!((role.version, role.updated_at), (2, 2_000));
}

#[test]
fn effective_permissions_join_built_in_and_custom_roles() {
    let custom = CustomRole {
        id: Uuid::now_v7(),
        tenant_id: TenantId::new(),
        name: "exporter".into(),
        description: String::new(),
        permissions: vec!["customers.export".into()],
        created_at: 0,
        updated_at: 0,
        version: 1,
    };
    let perms = catalog().effective_permissions(&["viewer".into(), "exporter".into()], &[custom]);
    assert!(perms.contains(&"customers.export".to_owned()));
    assert!(perms.contains(&"customers.read".to_owned()));
    assert!(!perms.contains(&"customers.write".to_owned()));
}
