//! The sales context's permissions, and which built-in roles hold them (IAM hands them out).

use crm_core::authz::Permission;

/// Every permission of leads, opportunities, deals and pipelines.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "deals.approve_large",
        allows: "win deals above the tenant's approval threshold",
        held_by: &["sales_manager"],
    },
    Permission {
        name: "deals.read",
        allows: "read deals",
        held_by: &["sales_manager", "sales_rep", "viewer"],
    },
    Permission {
        name: "leads.assign",
        allows: "assign leads to sales reps",
        held_by: &["sales_manager"],
    },
    Permission {
        name: "leads.convert",
        allows: "convert leads into customers and opportunities",
        held_by: &["sales_manager", "sales_rep:own"],
    },
    Permission {
        name: "leads.read",
        allows: "read leads",
        held_by: &["sales_manager", "sales_rep", "viewer"],
    },
    Permission {
        name: "leads.write",
        allows: "create and change leads",
        held_by: &["sales_manager", "sales_rep:own"],
    },
    Permission {
        name: "opportunities.close",
        allows: "win or lose opportunities",
        held_by: &["sales_manager", "sales_rep:own"],
    },
    Permission {
        name: "opportunities.read",
        allows: "read opportunities",
        held_by: &["sales_manager", "sales_rep", "viewer"],
    },
    Permission {
        name: "opportunities.write",
        allows: "create, change and move opportunities",
        held_by: &["sales_manager", "sales_rep:own"],
    },
    Permission {
        name: "pipelines.manage",
        allows: "create and change pipelines",
        held_by: &["sales_manager"],
    },
    Permission {
        name: "pipelines.read",
        allows: "read pipelines, analytics and forecasts",
        held_by: &["sales_manager", "sales_rep", "viewer"],
    },
];
