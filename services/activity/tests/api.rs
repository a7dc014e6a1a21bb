//! The activity API as its callers meet it: every RPC through the gRPC service (requests
//! decoded, rights checked, answers encoded), on SQLite and on PostgreSQL under row-level
//! security. Tenant isolation RPC by RPC, field violations, what `:own` reaches, the edit
//! window and its audit, search that reads its writes, "my day", and a record's timeline drawn
//! from the other contexts' events.

mod support;

use std::collections::BTreeSet;

use crm_activity::interfaces::grpc::ActivityGrpc;
use crm_core::api::timestamp;
use crm_core::{TenantId, UserId};
use crm_proto::crm::activity::v1 as pb;
use pb::activity_service_server::ActivityService;
use pb::task_service_server::TaskService;
use pb::timeline_service_server::TimelineService;
use prost_types::FieldMask;
use support::*;
use tonic::Code;
use uuid::Uuid;

crm_core::on_every_engine! {
    engines {
        sqlite_engine = sqlite;
        postgres_engine = postgres, ignore "needs DATABASE_URL (PostgreSQL): run with --include-ignored";
    }
    flavor "multi_thread",
    each |w| (&w),
    tests {
        every_rpc_of_another_tenant_finds_nothing,
        bad_input_names_its_fields,
        reps_reach_their_own_and_managers_assign,
        a_timeline_merges_every_context_and_only_its_readers_see_it,
        an_activity_changes_only_by_its_author_within_the_window_and_every_change_is_kept,
        search_finds_what_was_just_logged_in_its_tenant_only,
        my_day_groups_open_tasks_by_the_readers_day,
    }
}

fn customer_ref(id: Uuid) -> pb::RecordRef {
    pb::RecordRef {
        r#type: pb::RecordType::Customer as i32,
        id: id.to_string(),
    }
}

fn new_task(title: &str, due: i64, related: &[pb::RecordRef]) -> pb::Task {
    pb::Task {
        title: title.into(),
        due_time: Some(timestamp(due)),
        time_zone: "Asia/Kuala_Lumpur".into(),
        related: related.to_vec(),
        remind_before_minutes: 10,
        ..pb::Task::default()
    }
}

fn call(related: &[pb::RecordRef], body: &str) -> pb::Activity {
    pb::Activity {
        kind: pb::ActivityKind::Call as i32,
        direction: pb::Direction::Outbound as i32,
        duration_seconds: 300,
        body: body.into(),
        participants: vec![pb::Participant {
            name: "Puan Aminah binti Yusof".into(),
            ..pb::Participant::default()
        }],
        related: related.to_vec(),
        ..pb::Activity::default()
    }
}

fn code<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match r {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(s) => s.code(),
    }
}

fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

async fn create_task(
    g: &ActivityGrpc,
    p: &crm_core::Principal,
    task: pb::Task,
) -> Result<pb::Task, tonic::Status> {
    g.create_task(request(
        p,
        pb::CreateTaskRequest {
            task: Some(task),
            request_id: String::new(),
        },
    ))
    .await
    .map(|r| r.into_inner().task.unwrap())
}

async fn log(
    g: &ActivityGrpc,
    p: &crm_core::Principal,
    a: pb::Activity,
) -> Result<pb::Activity, tonic::Status> {
    g.log_activity(request(
        p,
        pb::LogActivityRequest {
            activity: Some(a),
            request_id: String::new(),
        },
    ))
    .await
    .map(|r| r.into_inner().activity.unwrap())
}

async fn timeline(
    g: &ActivityGrpc,
    p: &crm_core::Principal,
    record: pb::RecordRef,
    kinds: &[pb::TimelineEntryKind],
) -> Result<Vec<pb::TimelineEntry>, tonic::Status> {
    g.list_timeline(request(
        p,
        pb::ListTimelineRequest {
            record: Some(record),
            kinds: kinds.iter().map(|k| *k as i32).collect(),
            page_size: 200,
            page_token: String::new(),
        },
    ))
    .await
    .map(|r| r.into_inner().entries)
}

/// A tenant with an owner and a customer the owner owns, known to the projection.
struct Shop {
    tenant: TenantId,
    owner: crm_core::Principal,
    customer: Uuid,
}

async fn shop(w: &World, name: &str) -> Shop {
    let tenant = TenantId::new();
    let owner = principal(tenant, UserId::new(), "owner");
    let customer = Uuid::now_v7();
    w.feed(&user_created(tenant, owner.user_id, "owner@example.my"))
        .await;
    w.feed(&customer_created(
        tenant,
        customer,
        name,
        owner.user_id,
        START - 60_000,
    ))
    .await;
    Shop {
        tenant,
        owner,
        customer,
    }
}

async fn every_rpc_of_another_tenant_finds_nothing(w: &World) {
    let g = ActivityGrpc::new(w.app.clone());
    let a = shop(w, "Kedai Batik Murni").await;
    let b = shop(w, "Butik Songket Indah").await;
    let task = create_task(
        &g,
        &a.owner,
        new_task(
            "Hantar sampel",
            START + 3_600_000,
            &[customer_ref(a.customer)],
        ),
    )
    .await
    .unwrap();
    let act = log(
        &g,
        &a.owner,
        call(&[customer_ref(a.customer)], "Asked about songket prices"),
    )
    .await
    .unwrap();
    let other = &b.owner;
    let not_found = |c: Code, rpc: &str| assert_eq!(c, Code::NotFound, "{rpc}");

    not_found(
        code(
            g.get_task(request(
                other,
                pb::GetTaskRequest {
                    id: task.id.clone(),
                },
            ))
            .await,
        ),
        "GetTask",
    );
    not_found(
        code(
            g.update_task(request(
                other,
                pb::UpdateTaskRequest {
                    task: Some(pb::Task {
                        id: task.id.clone(),
                        title: "mine now".into(),
                        ..pb::Task::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["title".into()],
                    }),
                },
            ))
            .await,
        ),
        "UpdateTask",
    );
    not_found(
        code(
            g.complete_task(request(
                other,
                pb::CompleteTaskRequest {
                    id: task.id.clone(),
                    etag: String::new(),
                },
            ))
            .await,
        ),
        "CompleteTask",
    );
    not_found(
        code(
            g.cancel_task(request(
                other,
                pb::CancelTaskRequest {
                    id: task.id.clone(),
                    etag: String::new(),
                },
            ))
            .await,
        ),
        "CancelTask",
    );
    let listed = g
        .list_tasks(request(other, pb::ListTasksRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.tasks.is_empty(),
        "ListTasks shows another tenant's task"
    );
    let listed = g
        .list_tasks(request(
            other,
            pb::ListTasksRequest {
                record: Some(customer_ref(a.customer)),
                ..pb::ListTasksRequest::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.tasks.is_empty(),
        "ListTasks by another tenant's record"
    );
    let day = g
        .get_my_day(request(other, pb::GetMyDayRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(day.overdue.is_empty() && day.today.is_empty() && day.upcoming.is_empty());
    // Creating about another tenant's record: that record is not found here.
    not_found(
        code(
            g.create_task(request(
                other,
                pb::CreateTaskRequest {
                    task: Some(new_task("x", START, &[customer_ref(a.customer)])),
                    request_id: String::new(),
                },
            ))
            .await,
        ),
        "CreateTask about another tenant's customer",
    );
    not_found(
        code(
            g.log_activity(request(
                other,
                pb::LogActivityRequest {
                    activity: Some(call(&[customer_ref(a.customer)], "x")),
                    request_id: String::new(),
                },
            ))
            .await,
        ),
        "LogActivity about another tenant's customer",
    );

    not_found(
        code(
            g.get_activity(request(
                other,
                pb::GetActivityRequest { id: act.id.clone() },
            ))
            .await,
        ),
        "GetActivity",
    );
    not_found(
        code(
            g.update_activity(request(
                other,
                pb::UpdateActivityRequest {
                    activity: Some(pb::Activity {
                        id: act.id.clone(),
                        body: "mine".into(),
                        ..pb::Activity::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["body".into()],
                    }),
                },
            ))
            .await,
        ),
        "UpdateActivity",
    );
    not_found(
        code(
            g.delete_activity(request(
                other,
                pb::DeleteActivityRequest { id: act.id.clone() },
            ))
            .await,
        ),
        "DeleteActivity",
    );
    not_found(
        code(
            g.list_activity_changes(request(
                other,
                pb::ListActivityChangesRequest { id: act.id.clone() },
            ))
            .await,
        ),
        "ListActivityChanges",
    );
    let listed = g
        .list_activities(request(other, pb::ListActivitiesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.activities.is_empty(), "ListActivities");
    let found = g
        .search_activities(request(
            other,
            pb::SearchActivitiesRequest {
                query: "songket".into(),
                page_size: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(found.activities.is_empty(), "SearchActivities");
    let entries = timeline(&g, other, customer_ref(a.customer), &[])
        .await
        .unwrap();
    assert!(
        entries.is_empty(),
        "ListTimeline of another tenant's customer: {entries:?}"
    );

    // The owner of A still has everything: the customer's creation, the task and the call.
    w.project().await;
    assert_eq!(
        timeline(&g, &a.owner, customer_ref(a.customer), &[])
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn bad_input_names_its_fields(w: &World) {
    let g = ActivityGrpc::new(w.app.clone());
    let a = shop(w, "Kedai Batik Murni").await;
    let status = create_task(
        &g,
        &a.owner,
        pb::Task {
            time_zone: "Asia/Kuala_Lumpor".into(),
            remind_before_minutes: 99_999,
            related: vec![pb::RecordRef {
                r#type: 9,
                id: "x".into(),
            }],
            ..pb::Task::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&status),
        ["task.related[0].type"],
        "the record is checked as it is decoded"
    );
    let status = create_task(
        &g,
        &a.owner,
        pb::Task {
            time_zone: "Asia/Kuala_Lumpor".into(),
            remind_before_minutes: 99_999,
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Weekly as i32,
                interval: 1,
                weekdays: vec![8],
            }),
            ..pb::Task::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&status),
        [
            "task.title",
            "task.due_time",
            "task.time_zone",
            "task.recurrence",
            "task.remind_before_minutes"
        ]
    );
    let status = log(&g, &a.owner, pb::Activity::default())
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["activity.kind", "activity.related"]);
    let status = log(
        &g,
        &a.owner,
        pb::Activity {
            kind: pb::ActivityKind::Note as i32,
            body: "x".repeat(20_001),
            duration_seconds: -1,
            related: vec![customer_ref(a.customer)],
            ..pb::Activity::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        fields(&status),
        ["activity.duration_seconds", "activity.body"]
    );
    let status = g
        .list_timeline(request(&a.owner, pb::ListTimelineRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["record"]);
    let status = g
        .list_timeline(request(
            &a.owner,
            pb::ListTimelineRequest {
                record: Some(customer_ref(a.customer)),
                page_token: "not-a-token".into(),
                ..pb::ListTimelineRequest::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["page_token"]);
    let task = create_task(&g, &a.owner, new_task("Call back", START + 60_000, &[]))
        .await
        .unwrap();
    let status = g
        .update_task(request(
            &a.owner,
            pb::UpdateTaskRequest {
                task: Some(pb::Task {
                    id: task.id.clone(),
                    ..pb::Task::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["status".into()],
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["update_mask"], "{status:?}");
    let status = g
        .get_my_day(request(
            &a.owner,
            pb::GetMyDayRequest {
                time_zone: "Mars/Olympus".into(),
                page_size: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["time_zone"]);
    // Nothing was stored by the refused requests.
    let all = g
        .list_tasks(request(&a.owner, pb::ListTasksRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.tasks.len(), 1);
}

async fn reps_reach_their_own_and_managers_assign(w: &World) {
    let g = ActivityGrpc::new(w.app.clone());
    let tenant = TenantId::new();
    let aminah = principal(tenant, UserId::new(), "sales_rep");
    let badrul = principal(tenant, UserId::new(), "sales_rep");
    let chong = principal(tenant, UserId::new(), "sales_rep");
    let manager = principal(tenant, UserId::new(), "sales_manager");
    let viewer = principal(tenant, UserId::new(), "viewer");
    for (p, email) in [
        (&aminah, "aminah@x.my"),
        (&badrul, "badrul@x.my"),
        (&chong, "chong@x.my"),
        (&manager, "m@x.my"),
    ] {
        w.feed(&user_created(tenant, p.user_id, email)).await;
    }
    let hers = Uuid::now_v7();
    w.feed(&customer_created(
        tenant,
        hers,
        "Kedai Aminah",
        aminah.user_id,
        START,
    ))
    .await;

    let own = create_task(
        &g,
        &aminah,
        new_task("Call Kedai Aminah", START + 60_000, &[customer_ref(hers)]),
    )
    .await
    .unwrap();
    assert_eq!(
        own.assignee_id,
        aminah.user_id.to_string(),
        "the caller by default"
    );
    assert_eq!(
        create_task(&g, &badrul, new_task("x", START, &[customer_ref(hers)]))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound,
        "a rep cannot relate a task to a customer they cannot read"
    );
    let to_badrul = pb::Task {
        assignee_id: badrul.user_id.to_string(),
        ..new_task("Visit the shop", START + 120_000, &[customer_ref(hers)])
    };
    assert_eq!(
        create_task(&g, &aminah, to_badrul.clone())
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied,
        "a rep gives tasks to themselves only"
    );
    let given = create_task(&g, &manager, to_badrul.clone()).await.unwrap();
    assert_eq!(
        create_task(&g, &viewer, new_task("x", START, &[]))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let stranger = pb::Task {
        assignee_id: UserId::new().to_string(),
        ..new_task("x", START, &[])
    };
    let status = create_task(&g, &manager, stranger).await.unwrap_err();
    assert_eq!(fields(&status), ["task.assignee_id"]);

    let ids = |tasks: Vec<pb::Task>| tasks.into_iter().map(|t| t.id).collect::<BTreeSet<_>>();
    let list = |p: crm_core::Principal| {
        let g = g.clone();
        async move {
            ids(g
                .list_tasks(request(&p, pb::ListTasksRequest::default()))
                .await
                .unwrap()
                .into_inner()
                .tasks)
        }
    };
    let both: BTreeSet<String> = [own.id.clone(), given.id.clone()].into();
    assert_eq!(
        list(aminah.clone()).await,
        both,
        "her own, and the one about her customer"
    );
    assert_eq!(
        list(badrul.clone()).await,
        [given.id.clone()].into(),
        "the one given to him"
    );
    assert!(list(chong.clone()).await.is_empty(), "nothing of his");
    assert_eq!(list(manager.clone()).await, both);
    assert_eq!(list(viewer.clone()).await, both, "viewers read every task");
    assert_eq!(
        code(
            g.get_task(request(&chong, pb::GetTaskRequest { id: own.id.clone() }))
                .await
        ),
        Code::NotFound
    );
    // Badrul completes what he was given; he cannot touch Aminah's own.
    let done = g
        .complete_task(request(
            &badrul,
            pb::CompleteTaskRequest {
                id: given.id.clone(),
                etag: given.etag.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.task.unwrap().status, pb::TaskStatus::Done as i32);
    assert_eq!(
        code(
            g.cancel_task(request(
                &badrul,
                pb::CancelTaskRequest {
                    id: own.id.clone(),
                    etag: String::new()
                }
            ))
            .await
        ),
        Code::NotFound
    );
    // A done task is not done twice.
    let again = g
        .complete_task(request(
            &manager,
            pb::CompleteTaskRequest {
                id: given.id.clone(),
                etag: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    // A deactivated user is given nothing.
    use crm_proto::crm::iam::events::v1::UserStatusChanged;
    w.feed(&event(
        tenant,
        chong.user_id,
        &UserStatusChanged {
            user_id: chong.user_id.to_string(),
            status: crm_proto::crm::iam::v1::UserStatus::Deactivated as i32,
            ..UserStatusChanged::default()
        },
        START,
    ))
    .await;
    let to_chong = pb::Task {
        assignee_id: chong.user_id.to_string(),
        ..new_task("x", START, &[])
    };
    let status = create_task(&g, &manager, to_chong).await.unwrap_err();
    assert_eq!(fields(&status), ["task.assignee_id"]);
    assert!(status.message().contains("deactivated"), "{status:?}");
}

async fn a_timeline_merges_every_context_and_only_its_readers_see_it(w: &World) {
    use crm_proto::crm::notification::events::v1::NotificationSent;
    use crm_proto::crm::sales::events::v1::{DealWon, LeadConverted, LeadCreated};
    use crm_proto::crm::sales::v1::{Deal, Lead};
    let g = ActivityGrpc::new(w.app.clone());
    let tenant = TenantId::new();
    let aminah = principal(tenant, UserId::new(), "sales_rep");
    let badrul = principal(tenant, UserId::new(), "sales_rep");
    let viewer = principal(tenant, UserId::new(), "viewer");
    let lead = Uuid::now_v7();
    let customer = Uuid::now_v7();
    let opportunity = Uuid::now_v7();
    let t = |minutes: i64| START + minutes * 60_000;
    // The lead first, with a call logged against it.
    w.feed(&event(
        tenant,
        lead,
        &LeadCreated {
            lead: Some(Lead {
                id: lead.to_string(),
                contact_name: "Encik Hafiz".into(),
                owner_id: aminah.user_id.to_string(),
                ..Lead::default()
            }),
            created_by_user_id: aminah.user_id.to_string(),
        },
        t(0),
    ))
    .await;
    let lead_ref = pb::RecordRef {
        r#type: pb::RecordType::Lead as i32,
        id: lead.to_string(),
    };
    w.clock.advance(std::time::Duration::from_secs(60));
    log(
        &g,
        &aminah,
        call(
            std::slice::from_ref(&lead_ref),
            "Wants 40 pieces of batik sutera",
        ),
    )
    .await
    .unwrap();
    // Converted: the customer is created, then the lead's history follows it there.
    w.feed(&customer_created(
        tenant,
        customer,
        "Hafiz Trading",
        aminah.user_id,
        t(2),
    ))
    .await;
    w.feed(&event(
        tenant,
        lead,
        &LeadConverted {
            lead_id: lead.to_string(),
            customer_id: customer.to_string(),
            customer_created: true,
            opportunity_id: opportunity.to_string(),
            owner_id: aminah.user_id.to_string(),
            converted_by_user_id: aminah.user_id.to_string(),
            ..LeadConverted::default()
        },
        t(3),
    ))
    .await;
    w.clock.advance(std::time::Duration::from_secs(180));
    create_task(
        &g,
        &aminah,
        new_task("Send the quotation", t(60), &[customer_ref(customer)]),
    )
    .await
    .unwrap();
    // The thank-you email's event arrives before the deal's (another topic): it waits for it.
    let won = event(
        tenant,
        opportunity,
        &DealWon {
            deal: Some(Deal {
                id: Uuid::now_v7().to_string(),
                opportunity_id: opportunity.to_string(),
                customer_id: customer.to_string(),
                owner_id: aminah.user_id.to_string(),
                name: "40 pieces".into(),
                ..Deal::default()
            }),
            won_by_user_id: aminah.user_id.to_string(),
            ..DealWon::default()
        },
        t(5),
    );
    w.feed(&event(
        tenant,
        Uuid::now_v7(),
        &NotificationSent {
            notification_id: Uuid::now_v7().to_string(),
            channel: crm_proto::crm::notification::v1::Channel::Email as i32,
            recipient_address: "hafiz@trading.my".into(),
            trigger_event_id: won.id.to_string(),
            ..NotificationSent::default()
        },
        t(6),
    ))
    .await;
    w.feed(&won).await;
    w.project().await;

    let entries = timeline(&g, &aminah, customer_ref(customer), &[])
        .await
        .unwrap();
    let seen: Vec<(i32, String)> = entries
        .iter()
        .map(|e| (e.kind, e.summary.clone()))
        .collect();
    use pb::TimelineEntryKind as K;
    let kinds: Vec<i32> = seen.iter().map(|(k, _)| *k).collect();
    let k = |ks: &[K]| ks.iter().map(|k| *k as i32).collect::<Vec<_>>();
    assert_eq!(kinds.len(), 8, "{seen:#?}");
    assert_eq!(
        kinds[..3],
        k(&[K::Notification, K::Opportunity, K::Task]),
        "newest first: {seen:#?}"
    );
    // The conversion's two entries share its time.
    let mut converted = kinds[3..5].to_vec();
    converted.sort();
    assert_eq!(converted, k(&[K::Lead, K::Opportunity]), "{seen:#?}");
    assert_eq!(
        kinds[5..],
        k(&[K::Customer, K::Activity, K::Lead]),
        "{seen:#?}"
    );
    assert!(seen[0].1.contains("hafiz@trading.my"), "{seen:?}");
    assert!(
        seen[6].1.contains("batik sutera"),
        "the lead's call follows it: {seen:?}"
    );
    assert_eq!(
        entries[7].subject.as_ref().unwrap().id,
        lead.to_string(),
        "an entry names its record"
    );

    // Filtered, and paged.
    let calls = timeline(&g, &aminah, customer_ref(customer), &[K::Activity])
        .await
        .unwrap();
    assert_eq!(calls.len(), 1);
    let mut token = String::new();
    let mut paged = Vec::new();
    loop {
        let page = g
            .list_timeline(request(
                &aminah,
                pb::ListTimelineRequest {
                    record: Some(customer_ref(customer)),
                    kinds: Vec::new(),
                    page_size: 3,
                    page_token: token.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        paged.extend(
            page.entries
                .into_iter()
                .map(|e| (e.id, e.subject.unwrap().id)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let whole: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e.id.clone(), e.subject.clone().unwrap().id))
        .collect();
    assert_eq!(paged, whole, "pages of 3 walk the same list");

    // Only who may read the customer reads its timeline.
    assert_eq!(
        timeline(&g, &badrul, customer_ref(customer), &[])
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let seen_by_viewer = timeline(&g, &viewer, customer_ref(customer), &[])
        .await
        .unwrap();
    assert_eq!(
        seen_by_viewer.len(),
        entries.len(),
        "viewers read every customer"
    );
    let mut blind = viewer.clone();
    blind
        .permissions
        .retain(|p| !p.starts_with("activities.") && !p.starts_with("tasks."));
    let without = timeline(&g, &blind, customer_ref(customer), &[])
        .await
        .unwrap();
    assert_eq!(
        without.len(),
        entries.len() - 2,
        "no activities or tasks without their read rights"
    );
    let mut nobody = viewer.clone();
    nobody.permissions.retain(|p| !p.starts_with("customers."));
    assert_eq!(
        timeline(&g, &nobody, customer_ref(customer), &[])
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
}

async fn an_activity_changes_only_by_its_author_within_the_window_and_every_change_is_kept(
    w: &World,
) {
    let g = ActivityGrpc::new(w.app.clone());
    let a = shop(w, "Kedai Batik Murni").await;
    let manager = principal(a.tenant, UserId::new(), "sales_manager");
    let rep = principal(a.tenant, UserId::new(), "sales_rep");
    let act = log(&g, &rep, call(&[], "x")).await.unwrap_err();
    assert_eq!(fields(&act), ["activity.related"]);
    // The rep logs against a customer of their own.
    let theirs = Uuid::now_v7();
    w.feed(&customer_created(
        a.tenant,
        theirs,
        "Kedai Rep",
        rep.user_id,
        START,
    ))
    .await;
    let act = log(&g, &rep, call(&[customer_ref(theirs)], "First **draft**"))
        .await
        .unwrap();
    assert!(
        act.body_html.contains("<strong>draft</strong>"),
        "{}",
        act.body_html
    );
    let edit = |p: &crm_core::Principal, body: &str, etag: &str| {
        g.update_activity(request(
            p,
            pb::UpdateActivityRequest {
                activity: Some(pb::Activity {
                    id: act.id.clone(),
                    body: body.into(),
                    etag: etag.into(),
                    ..pb::Activity::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["body".into()],
                }),
            },
        ))
    };
    let changed = edit(&rep, "Second draft", &act.etag)
        .await
        .unwrap()
        .into_inner()
        .activity
        .unwrap();
    assert_eq!(changed.body, "Second draft");
    assert_eq!(
        edit(&rep, "stale", &act.etag).await.unwrap_err().code(),
        Code::Aborted,
        "an old etag"
    );
    assert_eq!(
        edit(&manager, "the manager's", "")
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    w.clock.advance(std::time::Duration::from_secs(61 * 60));
    let late = edit(&rep, "too late", "").await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    assert_eq!(
        g.delete_activity(request(
            &rep,
            pb::DeleteActivityRequest { id: act.id.clone() }
        ))
        .await
        .unwrap_err()
        .code(),
        Code::FailedPrecondition
    );
    g.delete_activity(request(
        &manager,
        pb::DeleteActivityRequest { id: act.id.clone() },
    ))
    .await
    .unwrap();
    assert_eq!(
        code(
            g.get_activity(request(&rep, pb::GetActivityRequest { id: act.id.clone() }))
                .await
        ),
        Code::NotFound
    );
    let changes = g
        .list_activity_changes(request(
            &manager,
            pb::ListActivityChangesRequest { id: act.id.clone() },
        ))
        .await
        .unwrap()
        .into_inner()
        .changes;
    let actions: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c.action.as_str(),
                c.before.as_ref().map_or("", |b| b.body.as_str()),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("logged", ""),
            ("updated", "First **draft**"),
            ("deleted", "Second draft")
        ]
    );
    assert_eq!(changes[2].user_id, manager.user_id.to_string());
    let found = g
        .search_activities(request(
            &manager,
            pb::SearchActivitiesRequest {
                query: "draft".into(),
                page_size: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        found.activities.is_empty(),
        "a deleted activity is not found"
    );
}

async fn search_finds_what_was_just_logged_in_its_tenant_only(w: &World) {
    let g = ActivityGrpc::new(w.app.clone());
    let a = shop(w, "Kedai Batik Murni").await;
    let b = shop(w, "Butik Songket Indah").await;
    let mine = log(
        &g,
        &a.owner,
        call(
            &[customer_ref(a.customer)],
            "Tempahan **songket** tenun untuk majlis",
        ),
    )
    .await
    .unwrap();
    log(
        &g,
        &b.owner,
        call(&[customer_ref(b.customer)], "songket tenun juga"),
    )
    .await
    .unwrap();
    for query in ["songket", "tenun song", "aminah", "yus", "SONGKET majlis"] {
        let found = g
            .search_activities(request(
                &a.owner,
                pb::SearchActivitiesRequest {
                    query: query.into(),
                    page_size: 0,
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .activities;
        let ids: Vec<&str> = found.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, [mine.id.as_str()], "{query:?}");
    }
    let status = g
        .search_activities(request(
            &a.owner,
            pb::SearchActivitiesRequest {
                query: "  ..  ".into(),
                page_size: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["query"]);
}

async fn my_day_groups_open_tasks_by_the_readers_day(w: &World) {
    let g = ActivityGrpc::new(w.app.clone());
    let a = shop(w, "Kedai Batik Murni").await;
    let hour = 3_600_000;
    // START is 09:00 on Monday in Kuala Lumpur, 01:00 UTC.
    let mut ids = Vec::new();
    for (title, due) in [
        ("yesterday", START - 20 * hour),
        ("this evening", START + 10 * hour),
        ("on thursday", START + 72 * hour),
        ("in ten days", START + 240 * hour),
    ] {
        ids.push(
            create_task(&g, &a.owner, new_task(title, due, &[]))
                .await
                .unwrap(),
        );
    }
    let done = create_task(&g, &a.owner, new_task("done already", START + hour, &[]))
        .await
        .unwrap();
    g.complete_task(request(
        &a.owner,
        pb::CompleteTaskRequest {
            id: done.id,
            etag: String::new(),
        },
    ))
    .await
    .unwrap();
    let day = |zone: &str| {
        let g = g.clone();
        let p = a.owner.clone();
        let zone = zone.to_owned();
        async move {
            let d = g
                .get_my_day(request(
                    &p,
                    pb::GetMyDayRequest {
                        time_zone: zone,
                        page_size: 0,
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            let titles = |t: Vec<pb::Task>| t.into_iter().map(|t| t.title).collect::<Vec<_>>();
            (titles(d.overdue), titles(d.today), titles(d.upcoming))
        }
    };
    assert_eq!(
        day("Asia/Kuala_Lumpur").await,
        (
            vec!["yesterday".to_owned()],
            vec!["this evening".to_owned()],
            vec!["on thursday".to_owned()]
        )
    );
    // In Honolulu it is still Sunday, 15:00: "yesterday" (Saturday 19:00 there) is overdue,
    // "this evening" (Monday 01:00 there) is tomorrow.
    let (overdue, today, upcoming) = day("Pacific/Honolulu").await;
    assert_eq!(overdue, ["yesterday"]);
    assert!(today.is_empty(), "{today:?}");
    assert_eq!(upcoming, ["this evening", "on thursday"]);
}
