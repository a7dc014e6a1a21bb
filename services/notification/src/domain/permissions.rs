//! The notification context's permissions, and which built-in roles hold them (IAM hands them
//! out).

use crm_core::authz::Permission;

/// Every permission of notifications and templates.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "notifications.read",
        allows: "read own notifications",
        held_by: &["sales_manager", "sales_rep", "viewer"],
    },
    Permission {
        name: "notifications.read_all",
        allows: "read every notification of the tenant",
        held_by: &[],
    },
    Permission {
        name: "templates.manage",
        allows: "create and change notification templates",
        held_by: &["sales_manager"],
    },
];
