//! The customer context's permissions, and which built-in roles hold them (IAM hands them out).

use crm_core::authz::Permission;

/// Every permission of customers and contacts.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "custom_fields.manage",
        allows: "define the customers' custom fields, and change or delete them",
        held_by: &[],
    },
    Permission {
        name: "customers.delete",
        allows: "delete customers, and see and restore the deleted ones for 30 days",
        held_by: &["sales_manager"],
    },
    Permission {
        name: "customers.export",
        allows: "export customers",
        held_by: &["sales_manager"],
    },
    Permission {
        name: "customers.import",
        allows: "import customers",
        held_by: &["sales_manager"],
    },
    Permission {
        name: "customers.read",
        allows: "read customers and contacts",
        held_by: &["sales_manager", "sales_rep:own", "viewer"],
    },
    Permission {
        name: "customers.write",
        allows: "create and change customers and contacts",
        held_by: &["sales_manager", "sales_rep:own"],
    },
];
