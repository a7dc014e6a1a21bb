//! The flows from events to notifications, on the notification store (SQLite always; PostgreSQL
//! when `DATABASE_URL` is set, `#[ignore]`d without `--include-ignored`): events are handed to
//! the consumer as the bus would, then the worker delivers through the log sink.

use crm_core::storage::Database;
use crm_core::testing::TestDb;
use crm_core::{TenantId, UserId};
use crm_events::consumer::deliver;
use crm_events::{Causation, Consumer, Delivery, Envelope, Inbox};
use crm_notification::config::NotificationConfig;
use crm_notification::domain::notification::Status;
use crm_notification::domain::ports::{NotificationFilter, NotificationStore, TemplateFilter};
use crm_notification::domain::template::{Channel, Template, TemplateInput};
use crm_notification::infrastructure::consumer::{IAM_GROUP, SALES_GROUP};
use crm_notification::infrastructure::sql::SqlNotificationStore;
use crm_proto::crm::iam::events::v1::{
    TenantCreated, TenantSettingsChanged, UserCreated, UserInvited, UserProfileChanged,
};
use crm_proto::crm::iam::v1::TenantSettings;
use crm_proto::crm::sales::events::v1::{DealLost, DealWon, LeadCreated, OpportunityReopened};
use crm_proto::crm::sales::v1::{Deal, Lead, LeadSource, LossReason};
use crm_proto::google::r#type::Money;
use uuid::Uuid;

async fn sqlite() -> TestDb {
    TestDb::sqlite(
        "notification",
        &crm_notification::MIGRATIONS,
        &[&crm_events::TABLES],
    )
    .await
}

async fn postgres() -> TestDb {
    TestDb::postgres(
        "notification",
        &crm_notification::MIGRATIONS,
        &[&crm_events::TABLES],
    )
    .await
}

crm_core::on_every_engine! {
    engines {
        sqlite_engine = sqlite;
        postgres_engine = postgres, ignore "needs DATABASE_URL (PostgreSQL): run with --include-ignored";
    }
    flavor "current_thread",
    each |t| (t.db.clone()),
    tests {
    events_become_notifications_once,
    customer_messages_wait_their_grace_period_and_a_reopen_cancels_them,
    an_invitation_is_fixed_text_with_its_link_and_joining_sends_no_welcome,
    each_person_is_written_to_in_their_own_language,
    }
}

/// A person who chose a language (IAM's `UserProfileChanged`) reads their notices in it; the
/// others, in the tenant's. Choosing none again gives them the tenant's.
async fn each_person_is_written_to_in_their_own_language(db: Database) {
    let built = crm_notification::build(&db, &NotificationConfig::default()).unwrap();
    let iam = Consumer::new(IAM_GROUP, built.flows.clone(), Inbox::new(db.clone()));
    let sales = Consumer::new(SALES_GROUP, built.flows.clone(), Inbox::new(db.clone()));
    let store = SqlNotificationStore::new(db.clone());
    let tenant = TenantId::new();
    let handled = async |consumer: &Consumer, topic: &str, event: &Envelope| {
        let outcome = deliver(consumer, topic, event).await.unwrap();
        assert!(matches!(outcome, Delivery::Handled), "{outcome:?}");
    };
    const IAM: &str = "crm.iam.events.v1";
    let created = TenantCreated {
        tenant_id: tenant.to_string(),
        name: "Kilang".into(),
        ..Default::default()
    };
    handled(&iam, IAM, &envelope(tenant, &created)).await;
    let (manager, rep) = (UserId::new(), UserId::new());
    for (id, email, role) in [
        (manager, "aminah@kilangbatik.my", "sales_manager"),
        (rep, "farid@kilangbatik.my", "sales_rep"),
    ] {
        let user = UserCreated {
            user_id: id.to_string(),
            email: email.into(),
            roles: vec![role.into()],
            accepted_invitation: true,
            ..Default::default()
        };
        handled(&iam, IAM, &envelope(tenant, &user)).await;
    }
    let speaks = |locale: &str| UserProfileChanged {
        user_id: rep.to_string(),
        email: "farid@kilangbatik.my".into(),
        display_name: "Farid".into(),
        locale: locale.into(),
        ..Default::default()
    };
    handled(&iam, IAM, &envelope(tenant, &speaks("en-MY"))).await;
    let lead = |name: &str| {
        envelope(
            tenant,
            &LeadCreated {
                lead: Some(Lead {
                    id: Uuid::now_v7().to_string(),
                    contact_name: name.into(),
                    owner_id: rep.to_string(),
                    ..Default::default()
                }),
                created_by_user_id: manager.to_string(),
            },
        )
    };
    let subject_for = async |user: UserId| {
        all(&store, tenant)
            .await
            .into_iter()
            .rev()
            .find(|n| n.channel == Channel::InApp && n.recipient_user_id == Some(user))
            .map(|n| n.subject)
            .unwrap()
    };
    handled(&sales, "crm.sales.events.v1", &lead("Encik Rahman")).await;
    assert_eq!(subject_for(rep).await, "New lead: Encik Rahman");
    assert_eq!(subject_for(manager).await, "Prospek baharu: Encik Rahman");

    // Back to the workspace's language.
    handled(&iam, IAM, &envelope(tenant, &speaks(""))).await;
    handled(&sales, "crm.sales.events.v1", &lead("Puan Zainab")).await;
    assert_eq!(subject_for(rep).await, "Prospek baharu: Puan Zainab");
}

/// An invitation is mailed to the invited address in the tenant's language, naming the
/// workspace, the inviter and the roles in words, with the link and its end; no tenant template
/// replaces it. Joining by it (`UserCreated` with `accepted_invitation`) sends no welcome.
async fn an_invitation_is_fixed_text_with_its_link_and_joining_sends_no_welcome(db: Database) {
    let built = crm_notification::build(&db, &NotificationConfig::default()).unwrap();
    let iam = Consumer::new(IAM_GROUP, built.flows.clone(), Inbox::new(db.clone()));
    let store = SqlNotificationStore::new(db.clone());
    let tenant = TenantId::new();
    const IAM: &str = "crm.iam.events.v1";
    let handled = async |event: &Envelope| {
        let outcome = deliver(&iam, IAM, event).await.unwrap();
        assert!(
            matches!(outcome, Delivery::Handled | Delivery::Duplicate),
            "{outcome:?}"
        );
    };
    handled(&envelope(
        tenant,
        &TenantCreated {
            tenant_id: tenant.to_string(),
            name: "Kilang Desa Murni Batik".into(),
            slug: "kilang".into(),
            ..Default::default()
        },
    ))
    .await;
    let ali = UserId::new();
    let link = "https://crm.kilang.example/#invitation/inv_x_y";
    let invited = envelope(
        tenant,
        &UserInvited {
            user_id: ali.to_string(),
            email: "ali@kilangbatik.my".into(),
            display_name: "Ali bin Hassan".into(),
            roles: vec!["sales_rep".into()],
            inviter_name: "Siti Aminah".into(),
            tenant_name: "Kilang Desa Murni Batik".into(),
            link: link.into(),
            expire_time: Some(crm_core::api::timestamp(1_765_000_000_000)),
            send_count: 1,
            ..Default::default()
        },
    );
    handled(&invited).await;
    handled(&invited).await;
    let found = all(&store, tenant).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let mail = &found[0];
    assert_eq!(
        (mail.channel, mail.recipient_address.as_str()),
        (Channel::Email, "ali@kilangbatik.my")
    );
    // The tenant's locale at its start is Malay.
    assert_eq!(
        mail.subject,
        "Siti Aminah menjemput anda ke Kilang Desa Murni Batik"
    );
    for said in [
        link,
        "sebagai sales rep",
        "2025-12-06 05:46 UTC",
        "ali@kilangbatik.my",
    ] {
        assert!(mail.body.contains(said), "{said:?} in {}", mail.body);
    }
    assert!(mail.template_id.is_none(), "fixed text, no tenant template");

    // He joins: the other contexts hear of him, and no welcome goes out on top.
    handled(&envelope(
        tenant,
        &UserCreated {
            user_id: ali.to_string(),
            email: "ali@kilangbatik.my".into(),
            display_name: "Ali".into(),
            roles: vec!["sales_rep".into()],
            invited_by_user_id: UserId::new().to_string(),
            tenant_name: "Kilang Desa Murni Batik".into(),
            accepted_invitation: true,
            ..Default::default()
        },
    ))
    .await;
    assert_eq!(
        all(&store, tenant).await.len(),
        1,
        "no welcome after joining"
    );
}

fn envelope<M: prost::Message + prost::Name>(tenant: TenantId, message: &M) -> Envelope {
    Envelope::new("crm.test", tenant, tenant, message, &Causation::default())
}

async fn all(
    store: &SqlNotificationStore,
    tenant: TenantId,
) -> Vec<crm_notification::domain::notification::Notification> {
    let mut found = store
        .list_notifications(tenant, &NotificationFilter::default(), None, 500)
        .await
        .unwrap();
    found.reverse();
    found
}

/// The flows on `db`, customer messages sent at once (no grace period: the worker delivers
/// every one at the end).
async fn events_become_notifications_once(db: Database) {
    let at_once = NotificationConfig {
        customer_message_grace_millis: Some(0),
        ..NotificationConfig::default()
    };
    let built = crm_notification::build(&db, &at_once).unwrap();
    let iam = Consumer::new(IAM_GROUP, built.flows.clone(), Inbox::new(db.clone()));
    let sales = Consumer::new(SALES_GROUP, built.flows.clone(), Inbox::new(db.clone()));
    let store = SqlNotificationStore::new(db.clone());
    let tenant = TenantId::new();
    let handled = async |consumer: &Consumer, topic: &str, event: &Envelope| {
        let outcome = deliver(consumer, topic, event).await.unwrap();
        assert!(
            matches!(outcome, Delivery::Handled | Delivery::Duplicate),
            "{outcome:?}"
        );
    };
    const IAM: &str = "crm.iam.events.v1";
    const SALES: &str = "crm.sales.events.v1";

    // A new tenant starts with the built-in templates, once however often it is told.
    let created = envelope(
        tenant,
        &TenantCreated {
            tenant_id: tenant.to_string(),
            name: "Kilang Desa Murni Batik".into(),
            slug: "kilang".into(),
            ..Default::default()
        },
    );
    handled(&iam, IAM, &created).await;
    handled(&iam, IAM, &created).await;
    let templates = store
        .list_templates(tenant, &TemplateFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(templates.len(), 12, "six flows in English and Malay");

    // The owner's welcome, in the tenant's locale (IAM's default for a new tenant, Malay);
    // delivered twice, stored once. The owner signed up and has confirmed nothing: the fixed
    // welcome, with no word they chose (the workspace's name, their own).
    let siti = UserId::new();
    let welcome = envelope(
        tenant,
        &UserCreated {
            user_id: siti.to_string(),
            email: "siti@kilangbatik.my".into(),
            display_name: "Siti Aminah".into(),
            roles: vec!["owner".into()],
            tenant_name: "Kilang Desa Murni Batik".into(),
            ..Default::default()
        },
    );
    handled(&iam, IAM, &welcome).await;
    handled(&iam, IAM, &welcome).await;
    let found = all(&store, tenant).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].channel, Channel::Email);
    assert_eq!(found[0].recipient_address, "siti@kilangbatik.my");
    assert_eq!(found[0].subject, "Selamat datang ke Kilang CRM");
    assert!(found[0].body.starts_with("Salam,"), "{}", found[0].body);
    for chosen in ["Kilang Desa Murni", "Siti Aminah"] {
        assert!(!found[0].body.contains(chosen), "{}", found[0].body);
    }
    assert_eq!(found[0].status, Status::Pending);
    assert_eq!(found[0].trigger_event_id, welcome.id);

    // The tenant switches to English: the next welcome is in English.
    handled(
        &iam,
        IAM,
        &envelope(
            tenant,
            &TenantSettingsChanged {
                tenant_id: tenant.to_string(),
                settings: Some(TenantSettings {
                    locale: "en-GB".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
    )
    .await;
    let (manager, rep, viewer) = (UserId::new(), UserId::new(), UserId::new());
    for (id, email, role) in [
        (manager, "aminah@kilangbatik.my", "sales_manager"),
        (rep, "farid@kilangbatik.my", "sales_rep"),
        (viewer, "lim@kilangbatik.my", "viewer"),
    ] {
        handled(
            &iam,
            IAM,
            &envelope(
                tenant,
                &UserCreated {
                    user_id: id.to_string(),
                    email: email.into(),
                    display_name: email.split('@').next().unwrap().into(),
                    roles: vec![role.into()],
                    invited_by_user_id: siti.to_string(),
                    ..Default::default()
                },
            ),
        )
        .await;
    }
    let found = all(&store, tenant).await;
    assert_eq!(found.len(), 4);
    // Invited by the owner: the tenant's own welcome, naming the workspace.
    assert_eq!(found[1].subject, "Welcome to Kilang Desa Murni Batik");

    // A new lead: in-app to the sales manager and to the lead's owner, not to the viewer.
    let lead_id = Uuid::now_v7();
    let lead = envelope(
        tenant,
        &LeadCreated {
            lead: Some(Lead {
                id: lead_id.to_string(),
                contact_name: "Encik Rahman".into(),
                company_name: "Hotel Seri Malaysia".into(),
                source: LeadSource::TradeShow as i32,
                owner_id: rep.to_string(),
                ..Default::default()
            }),
            created_by_user_id: manager.to_string(),
        },
    );
    handled(&sales, SALES, &lead).await;
    handled(&sales, SALES, &lead).await;
    let in_app: Vec<_> = all(&store, tenant)
        .await
        .into_iter()
        .filter(|n| n.channel == Channel::InApp)
        .collect();
    let mut to: Vec<Option<UserId>> = in_app.iter().map(|n| n.recipient_user_id).collect();
    to.sort_by_key(|u| u.map(|u| u.to_string()));
    let mut expected = vec![Some(manager), Some(rep)];
    expected.sort_by_key(|u| u.map(|u| u.to_string()));
    assert_eq!(to, expected);
    assert_eq!(
        in_app[0].subject,
        "New lead: Encik Rahman (Hotel Seri Malaysia)"
    );
    assert_eq!(
        in_app[0].body,
        "aminah added a lead from trade show, owned by farid."
    );
    // Each leads to the lead's own page in a client.
    for n in &in_app {
        assert_eq!(n.link, format!("pipeline/leads/{lead_id}"));
    }

    // A won deal thanks the customer; a customer without an email gets nothing.
    let myr = Money {
        currency_code: "MYR".into(),
        units: 25_000,
        nanos: 0,
    };
    let won = envelope(
        tenant,
        &DealWon {
            deal: Some(Deal {
                name: "Sarongs for 200 rooms".into(),
                amount: Some(myr.clone()),
                ..Default::default()
            }),
            customer_name: "Hotel Seri Malaysia".into(),
            customer_email: "purchasing@hotelseri.my".into(),
            won_by_user_id: rep.to_string(),
            customer_mobile: "+60123456789".into(),
        },
    );
    handled(&sales, SALES, &won).await;
    handled(
        &sales,
        SALES,
        &envelope(
            tenant,
            &DealWon {
                deal: Some(Deal::default()),
                customer_name: "Walk-in".into(),
                ..Default::default()
            },
        ),
    )
    .await;
    let thanks: Vec<_> = all(&store, tenant)
        .await
        .into_iter()
        .filter(|n| n.trigger_event_type.ends_with("DealWon"))
        .collect();
    assert_eq!(thanks.len(), 1);
    assert_eq!(thanks[0].recipient_address, "purchasing@hotelseri.my");
    assert!(
        thanks[0].body.contains("MYR 25,000.00"),
        "{}",
        thanks[0].body
    );

    // The customer's mobile gets an SMS only once the tenant writes an SMS template for the
    // event (SMS cost money: there is no built-in one).
    let sms = Template::new(
        tenant,
        TemplateInput {
            name: "deal won sms".into(),
            channel: Some(Channel::Sms),
            event_type: "crm.sales.events.v1.DealWon".into(),
            locale: "en".into(),
            subject: String::new(),
            body: "{{ tenant_name }}: thank you {{ customer_name }}, {{ amount }} confirmed."
                .into(),
            enabled: true,
        },
        0,
    )
    .unwrap();
    store.insert_template(&sms).await.unwrap();
    let mut again = won.clone();
    again.id = Uuid::now_v7();
    handled(&sales, SALES, &again).await;
    let texts: Vec<_> = all(&store, tenant)
        .await
        .into_iter()
        .filter(|n| n.channel == Channel::Sms)
        .collect();
    assert_eq!(texts.len(), 1, "one SMS, to the mobile");
    assert_eq!(texts[0].recipient_address, "+60123456789");
    assert_eq!(
        texts[0].body,
        "Kilang Desa Murni Batik: thank you Hotel Seri Malaysia, MYR 25,000.00 confirmed."
    );
    assert_eq!(texts[0].template_id, Some(sms.id));

    // A lost deal sends no survey until the tenant turns it on; then it asks why, without the
    // opportunity's internal name.
    let lost = || {
        envelope(
            tenant,
            &DealLost {
                opportunity_name: "Kedai Kain Ali: new business".into(),
                customer_name: "Kedai Kain Ali".into(),
                customer_email: "ali@kedaikain.my".into(),
                amount: Some(myr.clone()),
                loss_reason: LossReason::NoBudget as i32,
                ..Default::default()
            },
        )
    };
    let before = all(&store, tenant).await.len();
    handled(&sales, SALES, &lost()).await;
    assert_eq!(all(&store, tenant).await.len(), before, "the survey is off");
    let surveys = store
        .list_templates(
            tenant,
            &TemplateFilter {
                channel: Some(Channel::Email),
                event_type: Some("crm.sales.events.v1.DealLost".into()),
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(surveys.len(), 2, "seeded in English and Malay, turned off");
    assert!(surveys.iter().all(|t| !t.enabled));
    for t in &surveys {
        store
            .update_template(
                tenant,
                t.id,
                Box::new(|t: &mut Template| {
                    t.enabled = true;
                    t.version += 1;
                    Ok(true)
                }),
            )
            .await
            .unwrap();
    }
    handled(&sales, SALES, &lost()).await;
    let survey = all(&store, tenant).await.pop().unwrap();
    assert_eq!(survey.recipient_address, "ali@kedaikain.my");
    assert_eq!(
        survey.subject,
        "How could we have done better, Kedai Kain Ali?"
    );
    assert!(!survey.body.contains("new business"), "{}", survey.body);

    // The tenant disables its English deal-won email: no more thanks in English (nor a
    // fallback to another language).
    let deal_won = store
        .list_templates(
            tenant,
            &TemplateFilter {
                channel: Some(Channel::Email),
                event_type: Some("crm.sales.events.v1.DealWon".into()),
            },
            None,
            10,
        )
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.locale == "en")
        .unwrap();
    store
        .update_template(
            tenant,
            deal_won.id,
            Box::new(|t: &mut Template| {
                t.enabled = false;
                t.version += 1;
                Ok(true)
            }),
        )
        .await
        .unwrap();
    let before = all(&store, tenant).await.len();
    handled(&sales, SALES, &won_again(tenant)).await;
    assert_eq!(all(&store, tenant).await.len(), before);

    // Another tenant sees none of it.
    assert!(all(&store, TenantId::new()).await.is_empty());

    // The worker delivers every one through the log sink (nothing configured): stored as sent,
    // with the attempt logged and saying it was not sent.
    while built.worker.round().await.unwrap() > 0 {}
    let found = all(&store, tenant).await;
    assert!(found.iter().all(|n| n.status == Status::Sent), "{found:?}");
    let log = store.attempts(tenant, found[0].id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].provider, "log");
    assert!(log[0].answer.contains("not sent"), "{}", log[0].answer);
    let in_app = found.iter().find(|n| n.channel == Channel::InApp).unwrap();
    assert_eq!(
        store.attempts(tenant, in_app.id).await.unwrap()[0].provider,
        "in_app"
    );
}

fn won_again(tenant: TenantId) -> Envelope {
    envelope(
        tenant,
        &DealWon {
            deal: Some(Deal::default()),
            customer_name: "Hotel Seri Malaysia".into(),
            customer_email: "purchasing@hotelseri.my".into(),
            ..Default::default()
        },
    )
}

/// Customer messages caused by a deal won or lost wait out the grace period (two minutes by
/// default): the worker leaves them alone, and reopening the opportunity cancels its own.
async fn customer_messages_wait_their_grace_period_and_a_reopen_cancels_them(db: Database) {
    let built = crm_notification::build(&db, &NotificationConfig::default()).unwrap();
    let sales = Consumer::new(SALES_GROUP, built.flows.clone(), Inbox::new(db.clone()));
    let store = SqlNotificationStore::new(db.clone());
    let tenant = TenantId::new();
    const SALES: &str = "crm.sales.events.v1";
    let (undone, kept) = (Uuid::now_v7(), Uuid::now_v7());
    let won = |opportunity: Uuid, email: &str| {
        envelope(
            tenant,
            &DealWon {
                deal: Some(Deal {
                    opportunity_id: opportunity.to_string(),
                    name: "Sarongs".into(),
                    ..Default::default()
                }),
                customer_name: "Hotel Seri Malaysia".into(),
                customer_email: email.into(),
                ..Default::default()
            },
        )
    };
    for event in [
        won(undone, "purchasing@hotelseri.my"),
        won(kept, "orders@galerisongket.my"),
    ] {
        assert_eq!(
            deliver(&sales, SALES, &event).await.unwrap(),
            Delivery::Handled
        );
    }
    let held = all(&store, tenant).await;
    assert_eq!(held.len(), 2);
    for n in &held {
        assert_eq!(n.status, Status::Pending);
        let until = n.held_until.expect("held back");
        assert!(until >= n.created_at + 120_000, "{n:?}");
        assert_eq!(n.next_attempt_at, Some(until));
    }
    assert_eq!(
        built.worker.round().await.unwrap(),
        0,
        "nothing is due in the grace period"
    );

    let reopened = envelope(
        tenant,
        &OpportunityReopened {
            opportunity_id: undone.to_string(),
            previous_status: crm_proto::crm::sales::v1::OpportunityStatus::Won as i32,
            ..Default::default()
        },
    );
    assert_eq!(
        deliver(&sales, SALES, &reopened).await.unwrap(),
        Delivery::Handled
    );
    // The same reopen told again, and another tenant's, change nothing more.
    assert_eq!(
        deliver(&sales, SALES, &reopened).await.unwrap(),
        Delivery::Duplicate
    );
    let elsewhere = envelope(
        TenantId::new(),
        &OpportunityReopened {
            opportunity_id: kept.to_string(),
            ..Default::default()
        },
    );
    deliver(&sales, SALES, &elsewhere).await.unwrap();
    let after = all(&store, tenant).await;
    let status = |to: &str| {
        after
            .iter()
            .find(|n| n.recipient_address == to)
            .map(|n| (n.status, n.next_attempt_at.is_some()))
    };
    assert_eq!(
        status("purchasing@hotelseri.my"),
        Some((Status::Cancelled, false))
    );
    assert_eq!(
        status("orders@galerisongket.my"),
        Some((Status::Pending, true))
    );
    let cancelled = store
        .list_notifications(
            tenant,
            &NotificationFilter {
                status: Some(Status::Cancelled),
                ..NotificationFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 1);
}
