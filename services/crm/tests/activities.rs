//! The activity context served by the launcher with every other context, tried as a rep's day
//! goes: a call logged against a new customer, a follow-up due in two seconds whose reminder
//! arrives live on `WatchNotifications` (through events: the activity context asks, the
//! notification context delivers), and the customer's timeline (over gRPC and REST) holding its
//! creation, its contact, the call and the task, drawn from the events.

use crate::support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crm_core::testing::eventually;
use crm_proto::crm::activity::v1 as act;
use crm_proto::crm::customer::v1 as cus;
use crm_proto::crm::notification::v1 as note;
use futures::StreamExt;
use tonic::Code;

use support::iam::register;
use support::{authorized, spawn};

#[tokio::test(flavor = "multi_thread")]
async fn a_reps_day_a_call_a_reminder_and_the_customers_timeline() {
    let server = spawn().await;
    let owner = register(&server, "Kilang Desa Murni Batik", "siti@kilangbatik.my").await;
    let token = owner.access.clone();
    let mut customers =
        cus::customer_service_client::CustomerServiceClient::new(server.channel.clone());
    let customer = customers
        .create_customer(authorized(
            cus::CreateCustomerRequest {
                customer: Some(cus::Customer {
                    r#type: cus::CustomerType::Business as i32,
                    business: Some(cus::BusinessDetails {
                        legal_name: "Hotel Seri Malaysia".into(),
                        ..Default::default()
                    }),
                    email: "buyer@hotelseri.example".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    customers
        .add_contact(authorized(
            cus::AddContactRequest {
                customer_id: customer.id.clone(),
                contact: Some(cus::Contact {
                    given_name: "Nur".into(),
                    job_title: "Buyer".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();
    let record = act::RecordRef {
        r#type: act::RecordType::Customer as i32,
        id: customer.id.clone(),
    };
    let mut watch =
        note::notification_service_client::NotificationServiceClient::new(server.channel.clone())
            .watch_notifications(authorized(
                note::WatchNotificationsRequest {
                    include_unread: false,
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();

    // The call: the activity context learns of the customer from its event, within moments.
    let mut activities =
        act::activity_service_client::ActivityServiceClient::new(server.channel.clone());
    let call = act::Activity {
        kind: act::ActivityKind::Call as i32,
        direction: act::Direction::Outbound as i32,
        duration_seconds: 420,
        body: "Wants 40 pieces of *batik sutera* for the lobby".into(),
        related: vec![record.clone()],
        ..Default::default()
    };
    let logged = eventually(
        "the customer is known to the activity context",
        async || match activities
            .log_activity(authorized(
                act::LogActivityRequest {
                    activity: Some(call.clone()),
                    request_id: "call-1".into(),
                },
                &token,
            ))
            .await
        {
            Ok(r) => r.into_inner().activity,
            Err(s) if s.code() == Code::NotFound => None,
            Err(s) => panic!("{s:?}"),
        },
    )
    .await;
    assert!(
        logged.body_html.contains("<em>batik sutera</em>"),
        "{}",
        logged.body_html
    );

    // A follow-up due in two seconds, reminded at its time.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let due = now + 2_000;
    let mut tasks = act::task_service_client::TaskServiceClient::new(server.channel.clone());
    let task = tasks
        .create_task(authorized(
            act::CreateTaskRequest {
                task: Some(act::Task {
                    title: "Send the quotation".into(),
                    due_time: Some(crm_core::api::timestamp(due)),
                    time_zone: "Asia/Kuala_Lumpur".into(),
                    related: vec![record.clone()],
                    remind_before_minutes: 0,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    let reminder = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let n = watch.next().await.expect("the stream stays open").unwrap();
            if let Some(n) = n.notification
                && n.subject.starts_with("Reminder:")
            {
                return n;
            }
        }
    })
    .await
    .expect("the reminder arrives");
    let arrived = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert_eq!(reminder.subject, "Reminder: Send the quotation");
    assert_eq!(
        reminder.link,
        format!("customers/{}", customer.id),
        "it opens the customer"
    );
    assert_eq!(reminder.channel, note::Channel::InApp as i32);
    assert!(arrived >= due, "not before its time");
    eprintln!("the reminder arrived {} ms after its time", arrived - due);
    let fired = tasks
        .get_task(authorized(
            act::GetTaskRequest {
                id: task.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert!(
        fired.remind_time.is_some(),
        "the task says its reminder fired"
    );

    // The customer's timeline: its creation, its contact, the call and the task.
    let mut timeline =
        act::timeline_service_client::TimelineServiceClient::new(server.channel.clone());
    let entries = eventually("the timeline holds the call and the task", async || {
        let entries = timeline
            .list_timeline(authorized(
                act::ListTimelineRequest {
                    record: Some(record.clone()),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .entries;
        (entries.len() == 4).then_some(entries)
    })
    .await;
    let kinds: Vec<i32> = entries.iter().map(|e| e.kind).collect();
    use act::TimelineEntryKind as K;
    assert_eq!(
        kinds,
        [K::Task, K::Activity, K::Contact, K::Customer].map(|k| k as i32),
        "{entries:#?}"
    );

    // The same over REST, as the console's other clients read it.
    let path = format!(
        "/api/v1/timeline?record.type=RECORD_TYPE_CUSTOMER&record.id={}&kinds=TIMELINE_ENTRY_KIND_ACTIVITY",
        customer.id
    );
    let request = http::Request::get(format!("http://{}{path}", server.addr))
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let (parts, body) = support::http1(server.addr, request).await;
    assert_eq!(parts.status, 200, "{body:?}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let rest = json["entries"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "{json}");
    assert_eq!(rest[0]["activityId"], logged.id);
    assert_eq!(rest[0]["kind"], "TIMELINE_ENTRY_KIND_ACTIVITY");
}
