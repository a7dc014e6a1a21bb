//! `just bench`: activities, tasks and timelines against a real `crm serve` process (release,
//! embedded SQLite, every context), every read figure beside a bare call measured on the same
//! server in the same run (`grpc.health.v1.Health/Check`, which crosses the same stack):
//!
//! - how long after a call is logged its entry heads the timeline (300 calls at 20 a second,
//!   the timeline read every 2 ms), p50/p95/p99;
//! - the first page of a timeline holding `ACTIVITY_BENCH_ENTRIES` entries (default 10,000:
//!   calls logged against one customer, projected from their events), p50/p95/p99, one caller;
//! - "my day" of a user in a tenant of `ACTIVITY_BENCH_TASKS` tasks (default 100,000, spread
//!   over 21 people and four months), p50/p95/p99, one caller;
//! - reminders: `ACTIVITY_BENCH_REMINDERS` tasks (default 10,000) due within the same minute,
//!   given to 20 reps each watching `WatchNotifications`: how late each reminder arrives on its
//!   stream after its time (p50/p95/p99, the latest), and that each arrived exactly once.
//!
//! Prints figures, never fails on a time; fails only when a reminder is lost or doubled.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod support;

use crm_core::testing::percentile;
use crm_proto::crm::activity::v1 as act;
use crm_proto::crm::customer::v1 as cus;
use crm_proto::crm::notification::v1::WatchNotificationsRequest;
use crm_proto::crm::notification::v1::notification_service_client::NotificationServiceClient;
use support::{Server, authorized, connect, mib, register, serve, status_kib, timed, user};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const REPS: usize = 20;
const WRITERS: usize = 32;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn line(what: &str, samples: &[Duration]) {
    println!(
        "  {what:<34} p50 {:7.2} ms   p95 {:7.2} ms   p99 {:7.2} ms   ({} samples)",
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.95)),
        ms(percentile(samples, 0.99)),
        samples.len()
    );
}

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn crm(data_dir: &Path) -> (Server, String) {
    serve(
        Command::new(env!("CARGO_BIN_EXE_crm"))
            .env("CRM_RATE_LIMIT__TENANT_PER_MINUTE", "0")
            .env("CRM_RATE_LIMIT__SUBJECT_PER_MINUTE", "0")
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir),
    )
}

fn pid(server: &Server) -> u32 {
    server.0.as_ref().unwrap().id()
}

fn task(
    title: String,
    due: i64,
    assignee: &str,
    remind: i32,
    record: Option<&act::RecordRef>,
) -> act::CreateTaskRequest {
    act::CreateTaskRequest {
        task: Some(act::Task {
            title,
            due_time: Some(crm_core::api::timestamp(due)),
            time_zone: "Asia/Kuala_Lumpur".into(),
            assignee_id: assignee.into(),
            remind_before_minutes: remind,
            related: record.into_iter().cloned().collect(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// The bare call's latencies on the same server: `n` health checks, one caller.
async fn bare(channel: &Channel, n: usize) -> Vec<Duration> {
    let channel = channel.clone();
    timed(1, n, move |_| {
        let mut health = HealthClient::new(channel.clone());
        async move {
            health.check(HealthCheckRequest::default()).await.unwrap();
        }
    })
    .await
    .1
}

async fn run() {
    let entries = size("ACTIVITY_BENCH_ENTRIES", 10_000);
    let tasks = size("ACTIVITY_BENCH_TASKS", 100_000);
    let reminders = size("ACTIVITY_BENCH_REMINDERS", 10_000);
    let data_dir = tempfile::tempdir().unwrap();
    let (server, addr) = crm(data_dir.path());
    let channel = connect(&addr).await;
    let (owner, _, slug) = register(&addr, "Kilang Hari", "owner@day.example").await;
    let mut people = Vec::new();
    for i in 0..REPS {
        people.push(
            user(
                &addr,
                &owner,
                &slug,
                &format!("rep{i}@day.example"),
                &["sales_rep"],
            )
            .await,
        );
    }
    let customer = cus::customer_service_client::CustomerServiceClient::new(channel.clone())
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
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let record = act::RecordRef {
        r#type: act::RecordType::Customer as i32,
        id: customer.id.clone(),
    };
    // The projection knows the customer and the reps once a task about the customer for the
    // last rep is taken.
    let last_rep = people.last().unwrap().0.clone();
    loop {
        let r = act::task_service_client::TaskServiceClient::new(channel.clone())
            .create_task(authorized(
                task(
                    "warm up".into(),
                    now_ms() + 86_400_000,
                    &last_rep,
                    -1,
                    Some(&record),
                ),
                &owner,
            ))
            .await;
        if r.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss_before = status_kib(pid(&server), "VmRSS:");

    // ---- a timeline of `entries` entries ----------------------------------------------------
    let logged = {
        let (channel, owner, record) = (channel.clone(), owner.clone(), record.clone());
        let started = Instant::now();
        timed(WRITERS, entries, move |i| {
            let mut client =
                act::activity_service_client::ActivityServiceClient::new(channel.clone());
            let request = authorized(
                act::LogActivityRequest {
                    activity: Some(act::Activity {
                        kind: act::ActivityKind::Call as i32,
                        body: format!("Call {i}: asked about *batik sutera* for the lobby"),
                        related: vec![record.clone()],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &owner,
            );
            async move {
                client.log_activity(request).await.unwrap();
            }
        })
        .await;
        entries as f64 / started.elapsed().as_secs_f64()
    };
    let sentinel = act::activity_service_client::ActivityServiceClient::new(channel.clone())
        .log_activity(authorized(
            act::LogActivityRequest {
                activity: Some(act::Activity {
                    kind: act::ActivityKind::Note as i32,
                    body: "the last".into(),
                    related: vec![record.clone()],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .activity
        .unwrap();
    let first_page = act::ListTimelineRequest {
        record: Some(record.clone()),
        kinds: Vec::new(),
        page_size: 50,
        page_token: String::new(),
    };
    let mut timeline = act::timeline_service_client::TimelineServiceClient::new(channel.clone());
    let projected = Instant::now();
    loop {
        let page = timeline
            .list_timeline(authorized(first_page.clone(), &owner))
            .await
            .unwrap()
            .into_inner();
        if page
            .entries
            .first()
            .is_some_and(|e| e.activity_id == sentinel.id)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let projection_tail = projected.elapsed();
    // One call at a time, 20 a second: how long from its answer until its entry heads the
    // customer's timeline (read every 2 ms).
    let mut appear = Vec::new();
    for i in 0..300 {
        let paced = Instant::now();
        let logged = act::activity_service_client::ActivityServiceClient::new(channel.clone())
            .log_activity(authorized(
                act::LogActivityRequest {
                    activity: Some(act::Activity {
                        kind: act::ActivityKind::Note as i32,
                        body: format!("Paced note {i}"),
                        related: vec![record.clone()],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .activity
            .unwrap();
        let answered = Instant::now();
        let top = act::ListTimelineRequest {
            record: Some(record.clone()),
            kinds: Vec::new(),
            page_size: 1,
            page_token: String::new(),
        };
        loop {
            let page = timeline
                .list_timeline(authorized(top.clone(), &owner))
                .await
                .unwrap()
                .into_inner();
            if page
                .entries
                .first()
                .is_some_and(|e| e.activity_id == logged.id)
            {
                appear.push(answered.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(50).saturating_sub(paced.elapsed())).await;
    }
    appear.sort();
    const READS: usize = 2_000;
    let timeline_took = {
        let (channel, owner) = (channel.clone(), owner.clone());
        timed(1, READS, move |_| {
            let mut client =
                act::timeline_service_client::TimelineServiceClient::new(channel.clone());
            let request = authorized(first_page.clone(), &owner);
            async move {
                let page = client.list_timeline(request).await.unwrap().into_inner();
                assert_eq!(page.entries.len(), 50);
            }
        })
        .await
        .1
    };
    let bare_timeline = bare(&channel, READS).await;

    // ---- "my day" in a tenant of `tasks` tasks ---------------------------------------------
    let day_ms = 86_400_000i64;
    let started = Instant::now();
    let created = {
        let (channel, owner, people) = (channel.clone(), owner.clone(), Arc::new(people.clone()));
        let now = now_ms();
        timed(WRITERS * 2, tasks, move |i| {
            let mut client = act::task_service_client::TaskServiceClient::new(channel.clone());
            // Due from 60 days ago to 60 days ahead; every 21st the owner's.
            let due =
                now - 60 * day_ms + (i as i64 * 7_919 % 120) * day_ms + (i as i64 % 86_400) * 1000;
            let assignee = if i % (REPS + 1) == 0 {
                String::new()
            } else {
                people[i % REPS].0.clone()
            };
            let request = authorized(task(format!("Task {i}"), due, &assignee, -1, None), &owner);
            async move {
                client.create_task(request).await.unwrap();
            }
        })
        .await;
        tasks as f64 / started.elapsed().as_secs_f64()
    };
    let my_day_took = {
        let (channel, owner) = (channel.clone(), owner.clone());
        timed(1, READS, move |_| {
            let mut client = act::task_service_client::TaskServiceClient::new(channel.clone());
            let request = authorized(
                act::GetMyDayRequest {
                    time_zone: "Asia/Kuala_Lumpur".into(),
                    page_size: 50,
                },
                &owner,
            );
            async move {
                let day = client.get_my_day(request).await.unwrap().into_inner();
                assert!(
                    !day.overdue.is_empty() && !day.upcoming.is_empty(),
                    "a day with tasks in it"
                );
            }
        })
        .await
        .1
    };
    let bare_day = bare(&channel, READS).await;

    // ---- reminders: `reminders` due within one minute -----------------------------------------
    let arrivals: Arc<Mutex<HashMap<String, Vec<i64>>>> = Arc::default();
    let mut watching = Vec::new();
    for (_, token) in &people {
        let mut stream = NotificationServiceClient::new(channel.clone())
            .watch_notifications(authorized(
                WatchNotificationsRequest {
                    include_unread: false,
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        let arrivals = arrivals.clone();
        watching.push(tokio::spawn(async move {
            while let Ok(Some(n)) = stream.message().await {
                let at = now_ms();
                if let Some(n) = n.notification
                    && let Some(title) = n.subject.strip_prefix("Reminder: ")
                {
                    arrivals
                        .lock()
                        .unwrap()
                        .entry(title.to_owned())
                        .or_default()
                        .push(at);
                }
            }
        }));
    }
    // Due from 40 s from now, spread over one minute.
    let first_due = now_ms() + 40_000;
    let due_of = move |i: usize| first_due + (i as i64 * 60_000) / reminders as i64;
    let set_up = Instant::now();
    {
        let (channel, owner, people) = (channel.clone(), owner.clone(), Arc::new(people.clone()));
        timed(WRITERS, reminders, move |i| {
            let mut client = act::task_service_client::TaskServiceClient::new(channel.clone());
            let request = authorized(
                task(
                    format!("bench {i}"),
                    due_of(i),
                    &people[i % REPS].0,
                    0,
                    None,
                ),
                &owner,
            );
            async move {
                client.create_task(request).await.unwrap();
            }
        })
        .await;
    }
    let set_up = set_up.elapsed();
    assert!(
        now_ms() < first_due,
        "the reminders were set up before the first was due ({set_up:?})"
    );
    let deadline = Instant::now()
        + Duration::from_millis((first_due + 60_000 - now_ms()) as u64)
        + Duration::from_secs(60);
    while Instant::now() < deadline && arrivals.lock().unwrap().len() < reminders {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A moment more: anything doubled would arrive now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for w in watching {
        w.abort();
    }
    let arrivals = arrivals.lock().unwrap().clone();
    let doubled = arrivals.values().filter(|a| a.len() > 1).count();
    let mut late: Vec<Duration> = (0..reminders)
        .filter_map(|i| {
            let at = arrivals.get(&format!("bench {i}"))?[0];
            Some(Duration::from_millis((at - due_of(i)).max(0) as u64))
        })
        .collect();
    late.sort();
    let early = (0..reminders)
        .filter(|i| {
            arrivals
                .get(&format!("bench {i}"))
                .is_some_and(|a| a[0] < due_of(*i))
        })
        .count();
    let rss_after = status_kib(pid(&server), "VmRSS:");
    drop(server);

    println!("activity benchmark (embedded SQLite, release, every context in one process)");
    println!("  calls logged                {logged:9.0} /s ({entries} at {WRITERS} at once)");
    println!(
        "  tasks created               {created:9.0} /s ({tasks} at {} at once)",
        WRITERS * 2
    );
    println!(
        "  projection behind the writes {:8.0} ms after the last call was logged",
        ms(projection_tail)
    );
    line("an entry on the timeline after the call", &appear);
    line(
        &format!("timeline, first page of {entries}"),
        &timeline_took,
    );
    line("bare call (health check)", &bare_timeline);
    println!(
        "  ratio timeline / bare (p95)  {:7.2}   (goal: p95 <= 20 ms)",
        ms(percentile(&timeline_took, 0.95)) / ms(percentile(&bare_timeline, 0.95))
    );
    line(
        &format!("my day, {tasks} tasks in the tenant"),
        &my_day_took,
    );
    line("bare call (health check)", &bare_day);
    println!(
        "  ratio my day / bare (p95)    {:7.2}   (goal: p95 <= 20 ms)",
        ms(percentile(&my_day_took, 0.95)) / ms(percentile(&bare_day, 0.95))
    );
    println!(
        "  reminders: {reminders} due in one minute to {REPS} watching reps (set up in {:.1} s)",
        set_up.as_secs_f64()
    );
    line("  arrived after their time", &late);
    println!(
        "    latest {:.0} ms; arrived {} of {reminders}, doubled {doubled}, before their time {early}   (goal: each once, p99 <= 1 s)",
        ms(*late.last().unwrap_or(&Duration::ZERO)),
        late.len()
    );
    println!(
        "  server RSS                   {:7.1} MiB before, {:.1} MiB after",
        mib(rss_before),
        mib(rss_after)
    );
    assert_eq!(late.len(), reminders, "every reminder arrives");
    assert_eq!(doubled, 0, "no reminder arrives twice");
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
