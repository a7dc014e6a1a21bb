//! The activity context's permissions, and which built-in roles hold them (IAM hands them out).
//! A timeline needs no permission of its own: whoever may read a record reads its timeline (the
//! entries of activities and tasks only with `activities.read` and `tasks.read`).

use crm_core::authz::Permission;

/// Every permission of tasks and activities.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "activities.read",
        allows: "read logged calls, meetings, conversations and notes",
        held_by: &["sales_manager", "sales_rep:own", "viewer"],
    },
    Permission {
        name: "activities.write",
        allows: "log calls, meetings, conversations and notes, and change one's own",
        held_by: &["sales_manager", "sales_rep:own"],
    },
    Permission {
        name: "tasks.read",
        allows: "read tasks and their reminders",
        held_by: &["sales_manager", "sales_rep:own", "viewer"],
    },
    Permission {
        name: "tasks.write",
        allows: "create, assign, complete and cancel tasks",
        held_by: &["sales_manager", "sales_rep:own"],
    },
];
