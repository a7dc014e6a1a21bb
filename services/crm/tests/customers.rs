//! CustomerService through the generated client against a served CRM (embedded SQLite): every
//! RPC, bad input by field, stale etags, idempotent creates and imports, another tenant's ids
//! answered NOT_FOUND on every RPC, and the `:own` scope of sales reps.

use crate::support;

use std::collections::BTreeSet;

use crm_core::{TenantId, UserId};
use crm_proto::crm::common::v1::{EmailAddress, PhoneNumber};
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::*;
use prost_types::FieldMask;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use support::iam::{fields, reason, register, unique_name};
use support::{TestServer, authorized, spawn};

pub(crate) type Client = CustomerServiceClient<Channel>;

fn client(server: &TestServer) -> Client {
    CustomerServiceClient::new(server.channel.clone())
}

pub(crate) fn person(given: &str, family: &str, email: &str) -> Customer {
    Customer {
        r#type: CustomerType::Individual as i32,
        individual: Some(IndividualDetails {
            given_name: given.into(),
            family_name: family.into(),
        }),
        email: email.into(),
        ..Default::default()
    }
}

pub(crate) fn company(name: &str, tags: &[&str]) -> Customer {
    Customer {
        r#type: CustomerType::Business as i32,
        business: Some(BusinessDetails {
            legal_name: name.into(),
            ..Default::default()
        }),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    }
}

pub(crate) async fn create(
    c: &mut Client,
    token: &str,
    customer: Customer,
) -> Result<Customer, Status> {
    let request = CreateCustomerRequest {
        customer: Some(customer),
        request_id: String::new(),
    };
    c.create_customer(authorized(request, token))
        .await
        .map(|r| r.into_inner().customer.unwrap())
}

pub(crate) fn metadata(status: &Status, key: &str) -> String {
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(key).cloned())
        .unwrap_or_default()
}

/// An owner of a new tenant (every permission).
async fn owner(server: &TestServer) -> String {
    let name = unique_name("Kilang");
    register(server, &name, "owner@kilang.example").await.access
}

#[tokio::test]
async fn a_customer_is_created_read_changed_and_deleted() {
    let server = spawn().await;
    let token = owner(&server).await;
    let mut c = client(&server);
    let mut siti = person("Siti", "Aminah", " Siti@Kilang.Example ");
    siti.phones = vec![PhoneNumber {
        e164_number: "012-345 6789".into(),
        ..Default::default()
    }];
    siti.tags = vec!["Batik".into()];
    let created = create(&mut c, &token, siti).await.unwrap();
    assert_eq!(created.display_name, "Siti Aminah");
    assert_eq!(created.email, "siti@kilang.example");
    assert_eq!(created.phones[0].e164_number, "+60123456789");
    // As people read it, for the console to show (output only).
    assert_eq!(created.phones[0].display_number, "+60 12-345 6789");
    assert_eq!(created.tags, ["batik"]);
    assert_eq!(created.etag, "1");
    assert_eq!(created.status, CustomerStatus::Prospect as i32);

    let got = c
        .get_customer(authorized(
            GetCustomerRequest {
                id: created.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(got, created);

    // Only the masked field changes.
    let update = UpdateCustomerRequest {
        customer: Some(Customer {
            id: created.id.clone(),
            etag: created.etag.clone(),
            notes: "prefers parang motifs".into(),
            tags: vec!["ignored".into()],
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["notes".into()],
        }),
    };
    let updated = c
        .update_customer(authorized(update.clone(), &token))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(updated.notes, "prefers parang motifs");
    assert_eq!(updated.tags, ["batik"]);
    assert_eq!(updated.etag, "2");

    // The same etag again is stale: ABORTED, with the current one.
    let stale = c
        .update_customer(authorized(update, &token))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(reason(&stale), "ETAG_MISMATCH");
    assert_eq!(metadata(&stale, "current_etag"), "2");

    let stale_delete = c
        .delete_customer(authorized(
            DeleteCustomerRequest {
                id: created.id.clone(),
                etag: "1".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale_delete.code(), Code::Aborted);
    c.delete_customer(authorized(
        DeleteCustomerRequest {
            id: created.id.clone(),
            etag: "2".into(),
            ..Default::default()
        },
        &token,
    ))
    .await
    .unwrap();
    let gone = c
        .get_customer(authorized(GetCustomerRequest { id: created.id }, &token))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_input_is_refused_field_by_field() {
    let server = spawn().await;
    let token = owner(&server).await;
    let mut c = client(&server);
    let mut bad = person("Siti", "", "not-an-email");
    bad.phones = vec![PhoneNumber {
        e164_number: "12".into(),
        ..Default::default()
    }];
    bad.custom_fields.insert(
        "motif".into(),
        prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("x".repeat(2000))),
        },
    );
    let err = create(&mut c, &token, bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        [
            "customer.email",
            "customer.phones[0].e164_number",
            "customer.custom_fields.motif"
        ]
    );

    let unknown_enum = Customer {
        r#type: 9,
        ..person("Siti", "", "")
    };
    let err = create(&mut c, &token, unknown_enum).await.unwrap_err();
    assert_eq!(fields(&err), ["customer.type"]);
    let bad_email_kind = Customer {
        emails: vec![EmailAddress {
            kind: 42,
            address: "a@b.example".into(),
            primary: false,
        }],
        ..person("Siti", "", "")
    };
    let err = create(&mut c, &token, bad_email_kind).await.unwrap_err();
    assert_eq!(fields(&err), ["customer.emails[0].kind"]);
    let err = c
        .get_customer(authorized(GetCustomerRequest { id: "nope".into() }, &token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["id"]);
    let err = c
        .list_customers(authorized(
            ListCustomersRequest {
                order_by: "email".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["order_by"]);
    let listed = c
        .list_customers(authorized(ListCustomersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.customers.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn a_taken_email_names_its_holder_and_a_retried_create_returns_the_first() {
    let server = spawn().await;
    let token = owner(&server).await;
    let mut c = client(&server);
    let first = create(
        &mut c,
        &token,
        person("Siti", "Aminah", "siti@kilang.example"),
    )
    .await
    .unwrap();
    let err = create(
        &mut c,
        &token,
        person("Siti", "Lain", "SITI@kilang.example"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(fields(&err), ["customer.email"]);
    assert_eq!(metadata(&err, "customer_id"), first.id);

    let request = CreateCustomerRequest {
        customer: Some(person("Mei", "Ling", "mei@kilang.example")),
        request_id: "0b5e6d1c-retry-1".into(),
    };
    let once = c
        .create_customer(authorized(request.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    let again = c
        .create_customer(authorized(request.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(once, again, "the retry gets the first response");
    let reused = CreateCustomerRequest {
        customer: Some(person("Other", "Person", "other@kilang.example")),
        ..request
    };
    let err = c
        .create_customer(authorized(reused, &token))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn another_tenants_customer_is_not_found_on_every_rpc() {
    let server = spawn().await;
    let (mine, theirs) = (owner(&server).await, owner(&server).await);
    let mut c = client(&server);
    let customer = create(
        &mut c,
        &mine,
        person("Siti", "Aminah", "siti@kilang.example"),
    )
    .await
    .unwrap();
    let contact = c
        .add_contact(authorized(
            AddContactRequest {
                customer_id: customer.id.clone(),
                contact: Some(Contact {
                    given_name: "Ahmad".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &mine,
        ))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let (id, contact_id) = (customer.id.clone(), contact.id.clone());
    let t = theirs.as_str();
    let outcomes: Vec<(&str, Result<(), Status>)> = vec![
        (
            "GetCustomer",
            c.get_customer(authorized(GetCustomerRequest { id: id.clone() }, t))
                .await
                .map(drop),
        ),
        (
            "UpdateCustomer",
            c.update_customer(authorized(
                UpdateCustomerRequest {
                    customer: Some(Customer {
                        id: id.clone(),
                        notes: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
                t,
            ))
            .await
            .map(drop),
        ),
        (
            "DeleteCustomer",
            c.delete_customer(authorized(
                DeleteCustomerRequest {
                    id: id.clone(),
                    etag: String::new(),
                    ..Default::default()
                },
                t,
            ))
            .await
            .map(drop),
        ),
        (
            "ListContacts",
            c.list_contacts(authorized(
                ListContactsRequest {
                    customer_id: id.clone(),
                    ..Default::default()
                },
                t,
            ))
            .await
            .map(drop),
        ),
        (
            "AddContact",
            c.add_contact(authorized(
                AddContactRequest {
                    customer_id: id.clone(),
                    contact: Some(Contact {
                        given_name: "Intruder".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                t,
            ))
            .await
            .map(drop),
        ),
        (
            "UpdateContact",
            c.update_contact(authorized(
                UpdateContactRequest {
                    customer_id: id.clone(),
                    contact: Some(Contact {
                        id: contact_id.clone(),
                        job_title: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
                t,
            ))
            .await
            .map(drop),
        ),
        (
            "RemoveContact",
            c.remove_contact(authorized(
                RemoveContactRequest {
                    customer_id: id.clone(),
                    contact_id: contact_id.clone(),
                },
                t,
            ))
            .await
            .map(drop),
        ),
        (
            "SetPrimaryContact",
            c.set_primary_contact(authorized(
                SetPrimaryContactRequest {
                    customer_id: id.clone(),
                    contact_id: contact_id.clone(),
                },
                t,
            ))
            .await
            .map(drop),
        ),
    ];
    for (rpc, outcome) in outcomes {
        let err = outcome.expect_err(rpc);
        assert_eq!(err.code(), Code::NotFound, "{rpc}: {err:?}");
    }
    // Lists, searches and exports of the other tenant never show it.
    let listed = c
        .list_customers(authorized(ListCustomersRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.customers.is_empty());
    assert_eq!(listed.total_size, 0, "the other tenant's count");
    let found = c
        .search_customers(authorized(
            SearchCustomersRequest {
                query: "siti".into(),
                ..Default::default()
            },
            t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(found.customers.is_empty());
    let mut exported = c
        .export_customers(authorized(ExportCustomersRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert!(exported.message().await.unwrap().is_none());
    // And it is untouched.
    let still = c
        .get_customer(authorized(GetCustomerRequest { id }, &mine))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(still.etag, "2", "created, then one contact added");
    assert_eq!(still.contacts.len(), 1);
}

#[tokio::test]
async fn a_sales_rep_with_own_scope_reaches_only_their_customers() {
    let server = spawn().await;
    let tenant = TenantId::new();
    let (rep, colleague) = (UserId::new(), UserId::new());
    let own = ["customers.read:own", "customers.write:own"];
    let rep_token = server.token_claiming(tenant, rep, &["sales_rep"], &own);
    let colleague_token = server.token_claiming(tenant, colleague, &["sales_rep"], &own);
    let manager = server.token_claiming(
        tenant,
        UserId::new(),
        &["sales_manager"],
        &["customers.read", "customers.write", "customers.delete"],
    );
    let mut c = client(&server);
    let mine = create(&mut c, &rep_token, company("Rep's Batik", &[]))
        .await
        .unwrap();
    assert_eq!(mine.owner_id, rep.to_string());
    let theirs = create(
        &mut c,
        &colleague_token,
        company("Colleague's Songket", &[]),
    )
    .await
    .unwrap();

    let reps = c
        .list_customers(authorized(ListCustomersRequest::default(), &rep_token))
        .await
        .unwrap()
        .into_inner();
    // The count is of what the rep may read, not of the tenant.
    assert_eq!(reps.total_size, 1);
    let listed: Vec<String> = reps.customers.into_iter().map(|c| c.display_name).collect();
    assert_eq!(listed, ["Rep's Batik"]);
    let all = c
        .list_customers(authorized(ListCustomersRequest::default(), &manager))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.customers.len(), 2);
    assert_eq!(all.total_size, 2);

    let err = c
        .get_customer(authorized(
            GetCustomerRequest {
                id: theirs.id.clone(),
            },
            &rep_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "another rep's customer is not seen"
    );
    let err = create(
        &mut c,
        &rep_token,
        Customer {
            owner_id: colleague.to_string(),
            ..company("Given Away", &[])
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = c
        .delete_customer(authorized(
            DeleteCustomerRequest {
                id: mine.id.clone(),
                etag: String::new(),
                ..Default::default()
            },
            &rep_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "no customers.delete");
    assert_eq!(reason(&err), "MISSING_PERMISSION");
    let changed = c
        .update_customer(authorized(
            UpdateCustomerRequest {
                customer: Some(Customer {
                    id: mine.id.clone(),
                    notes: "mine to change".into(),
                    ..Default::default()
                }),
                update_mask: None,
            },
            &rep_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(changed.notes, "mine to change");
    let viewer = server.token_claiming(tenant, UserId::new(), &["viewer"], &["customers.read"]);
    let err = create(&mut c, &viewer, company("Nope", &[]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn contacts_are_added_listed_changed_made_primary_and_removed() {
    let server = spawn().await;
    let token = owner(&server).await;
    let mut c = client(&server);
    let customer = create(&mut c, &token, company("Kilang Desa Murni", &[]))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["Ahmad", "Mei Ling", "Raju"] {
        let contact = c
            .add_contact(authorized(
                AddContactRequest {
                    customer_id: customer.id.clone(),
                    contact: Some(Contact {
                        given_name: name.into(),
                        phones: vec![PhoneNumber {
                            e164_number: "+6012 345 6789".into(),
                            ..Default::default()
                        }],
                        // Mei Ling is added as the primary contact (issue 29, item 18).
                        primary: name == "Mei Ling",
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .contact
            .unwrap();
        assert_eq!(contact.customer_id, customer.id);
        assert_eq!(contact.phones[0].e164_number, "+60123456789");
        assert_eq!(contact.primary, name == "Mei Ling", "{name}: {contact:?}");
        ids.push(contact.id);
    }
    let read = c
        .get_customer(authorized(
            GetCustomerRequest {
                id: customer.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(
        read.primary_contact_id, ids[1],
        "the contact added as primary is"
    );
    let page = c
        .list_contacts(authorized(
            ListContactsRequest {
                customer_id: customer.id.clone(),
                page_size: 2,
                page_token: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.contacts.len(), 2);
    let rest = c
        .list_contacts(authorized(
            ListContactsRequest {
                customer_id: customer.id.clone(),
                page_size: 2,
                page_token: page.next_page_token,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.contacts.len(), 1);
    assert_eq!(rest.contacts[0].id, ids[2]);

    let update = UpdateContactRequest {
        customer_id: customer.id.clone(),
        contact: Some(Contact {
            id: ids[1].clone(),
            etag: "1".into(),
            job_title: "Buyer".into(),
            ..Default::default()
        }),
        update_mask: None,
    };
    let changed = c
        .update_contact(authorized(update.clone(), &token))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(
        (changed.job_title.as_str(), changed.etag.as_str()),
        ("Buyer", "2")
    );
    let stale = c
        .update_contact(authorized(update, &token))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let primary = c
        .set_primary_contact(authorized(
            SetPrimaryContactRequest {
                customer_id: customer.id.clone(),
                contact_id: ids[1].clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(primary.primary_contact_id, ids[1]);
    let marked: Vec<bool> = primary.contacts.iter().map(|c| c.primary).collect();
    assert_eq!(marked, [false, true, false], "one primary at most");

    c.remove_contact(authorized(
        RemoveContactRequest {
            customer_id: customer.id.clone(),
            contact_id: ids[1].clone(),
        },
        &token,
    ))
    .await
    .unwrap();
    let after = c
        .get_customer(authorized(
            GetCustomerRequest {
                id: customer.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(after.contacts.len(), 2);
    assert_eq!(
        after.primary_contact_id, "",
        "removing the primary clears it"
    );
    let err = c
        .remove_contact(authorized(
            RemoveContactRequest {
                customer_id: customer.id,
                contact_id: ids[1].clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Contacts may also come with a new customer.
    let with_contacts = Customer {
        contacts: vec![Contact {
            given_name: "Farah".into(),
            job_title: "Owner".into(),
            ..Default::default()
        }],
        ..company("Butik Farah", &[])
    };
    let created = create(&mut c, &token, with_contacts).await.unwrap();
    assert_eq!(created.contacts.len(), 1);
    assert_eq!(created.contacts[0].job_title, "Owner");
    assert_eq!(created.etag, "1");
}

#[tokio::test]
async fn search_and_lists_page_through_what_was_just_written() {
    let server = spawn().await;
    let token = owner(&server).await;
    let mut c = client(&server);
    for (name, tags) in [
        ("Kilang Desa Murni Batik", vec!["batik", "wholesale"]),
        ("Batik Tulis Pekalongan", vec!["batik"]),
        ("Songket Terengganu", vec!["songket"]),
    ] {
        create(&mut c, &token, company(name, &tags)).await.unwrap();
    }
    let search = |query: &str, tags: &[&str], page_token: String| SearchCustomersRequest {
        query: query.into(),
        page_size: 1,
        page_token,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    let first = c
        .search_customers(authorized(search("bat", &[], String::new()), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.customers.len(), 1);
    let second = c
        .search_customers(authorized(
            search("bat", &[], first.next_page_token),
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.customers.len(), 1);
    let names: BTreeSet<String> = [&first.customers[0], &second.customers[0]]
        .iter()
        .map(|c| c.display_name.clone())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "Batik Tulis Pekalongan".into(),
            "Kilang Desa Murni Batik".into()
        ])
    );
    let wholesale = c
        .search_customers(authorized(
            search("batik", &["wholesale"], String::new()),
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        wholesale.customers[0].display_name,
        "Kilang Desa Murni Batik"
    );
    let err = c
        .search_customers(authorized(search("!!", &[], String::new()), &token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["query"]);

    // Read-your-writes: created, then found by the very next call.
    create(&mut c, &token, company("Tenun Pahang", &[]))
        .await
        .unwrap();
    let found = c
        .search_customers(authorized(search("tenun", &[], String::new()), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.customers[0].display_name, "Tenun Pahang");

    // Lists page by name with tokens, A to Z and Z to A, numbers in names by their value (a
    // page ends between 2 and 10); a token of another order is refused.
    for name in ["Borong Kain 10", "Borong Kain 2"] {
        create(&mut c, &token, company(name, &[])).await.unwrap();
    }
    let a_to_z = [
        "Batik Tulis Pekalongan",
        "Borong Kain 2",
        "Borong Kain 10",
        "Kilang Desa Murni Batik",
        "Songket Terengganu",
        "Tenun Pahang",
    ];
    for (order_by, expected) in [
        ("display_name", a_to_z),
        ("display_name desc", {
            let mut z_to_a = a_to_z;
            z_to_a.reverse();
            z_to_a
        }),
    ] {
        let mut names = Vec::new();
        let mut token_ = String::new();
        loop {
            let page = c
                .list_customers(authorized(
                    ListCustomersRequest {
                        page_size: 2,
                        page_token: token_.clone(),
                        order_by: order_by.into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            // Counted on the first page, of every page to come; not again after.
            assert_eq!(page.total_size, if token_.is_empty() { 6 } else { 0 });
            names.extend(page.customers.into_iter().map(|c| c.display_name));
            if page.next_page_token.is_empty() {
                break;
            }
            token_ = page.next_page_token;
            let err = c
                .list_customers(authorized(
                    ListCustomersRequest {
                        page_token: token_.clone(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap_err();
            assert_eq!(fields(&err), ["page_token"]);
        }
        assert_eq!(names, expected, "{order_by}");
    }
    // The count follows the filters, not the page.
    let batik = c
        .list_customers(authorized(
            ListCustomersRequest {
                page_size: 1,
                tags: vec!["batik".into()],
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((batik.customers.len(), batik.total_size), (1, 2));
}

fn import_stream(
    options: ImportOptions,
    rows: Vec<Customer>,
) -> impl futures::Stream<Item = ImportCustomersRequest> {
    let first = ImportCustomersRequest {
        item: Some(import_customers_request::Item::Options(options)),
    };
    futures::stream::iter(std::iter::once(first).chain(rows.into_iter().map(|c| {
        ImportCustomersRequest {
            item: Some(import_customers_request::Item::Customer(c)),
        }
    })))
}

#[tokio::test]
async fn an_import_reports_exactly_its_bad_rows_and_a_resend_duplicates_nothing() {
    let server = spawn().await;
    let token = owner(&server).await;
    let mut c = client(&server);
    let rows: Vec<Customer> = (1..=10_000)
        .map(|n| {
            if n % 100 == 0 {
                person(&format!("Bad {n}"), "", &format!("bad{n}-at-nowhere"))
            } else {
                person(
                    &format!("Pelanggan {n}"),
                    "Batik",
                    &format!("p{n}@kilang.example"),
                )
            }
        })
        .collect();
    let options = ImportOptions {
        duplicate_policy: DuplicatePolicy::Skip as i32,
        dry_run: false,
        request_id: "import-2026-11-30".into(),
    };
    let request = authorized(import_stream(options.clone(), rows.clone()), &token);
    let report = c.import_customers(request).await.unwrap().into_inner();
    assert_eq!(report.received_count, 10_000);
    assert_eq!(report.created_count, 9_900);
    assert_eq!(report.failed_count, 100);
    let bad_rows: Vec<i64> = report.errors.iter().map(|e| e.row).collect();
    assert_eq!(bad_rows, (1..=100).map(|n| n * 100).collect::<Vec<_>>());
    assert!(
        report
            .errors
            .iter()
            .all(|e| e.field_violations[0].field == "customer.email")
    );

    // The same import again: the first report, marked as a replay, nothing written twice.
    let again = authorized(import_stream(options.clone(), rows.clone()), &token);
    assert_eq!(
        c.import_customers(again).await.unwrap().into_inner(),
        ImportCustomersResponse {
            replayed: true,
            ..report.clone()
        }
    );
    // Other rows under the same request_id are not read, and the report says so.
    let other_rows = vec![person("Lain", "Orang", "lain@kilang.example")];
    let other = authorized(import_stream(options, other_rows), &token);
    let replay = c.import_customers(other).await.unwrap().into_inner();
    assert!(replay.replayed, "{replay:?}");
    assert_eq!(replay.received_count, 10_000, "the first import's report");

    // Without the request id, duplicates are skipped by email.
    let options = ImportOptions {
        duplicate_policy: DuplicatePolicy::Skip as i32,
        ..Default::default()
    };
    let skip = authorized(import_stream(options, rows[..500].to_vec()), &token);
    let skipped = c.import_customers(skip).await.unwrap().into_inner();
    assert_eq!(
        (
            skipped.created_count,
            skipped.skipped_count,
            skipped.failed_count
        ),
        (0, 495, 5)
    );

    // Export streams every one of them, with the total.
    let mut stream = c
        .export_customers(authorized(ExportCustomersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let mut exported = 0;
    while let Some(item) = stream.message().await.unwrap() {
        assert_eq!(item.total_count, 9_900);
        exported += 1;
    }
    assert_eq!(exported, 9_900);
}

#[tokio::test]
async fn an_import_keeps_a_row_whose_only_fault_is_its_phone_and_warns() {
    let server = spawn().await;
    let token = owner(&server).await;
    let mut c = client(&server);
    let phone = |number: &str| PhoneNumber {
        e164_number: number.into(),
        ..Default::default()
    };
    let mut doubtful = person("Nurul", "Huda", "nurul@kilang.example");
    doubtful.phones = vec![phone("012-345 6789"), phone("12")];
    doubtful.notes = "Met at the Kuala Terengganu fair".into();
    // A bad phone and a bad email: the row is still refused, naming both.
    let mut refused = person("Broken", "Row", "broken-at-nowhere");
    refused.phones = vec![phone("12")];
    let options = ImportOptions {
        duplicate_policy: DuplicatePolicy::Skip as i32,
        ..Default::default()
    };
    let request = authorized(import_stream(options, vec![doubtful, refused]), &token);
    let report = c.import_customers(request).await.unwrap().into_inner();
    assert_eq!((report.created_count, report.failed_count), (1, 1));
    assert_eq!(report.errors[0].row, 2);
    let refused_fields: Vec<&str> = report.errors[0]
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(
        refused_fields,
        ["customer.email", "customer.phones[0].e164_number"]
    );
    assert_eq!(report.warnings.len(), 1, "{report:?}");
    assert_eq!(report.warnings[0].row, 1);
    assert_eq!(
        report.warnings[0].field_violations[0].field,
        "customer.phones[1].e164_number"
    );
    assert!(
        report.warnings[0].field_violations[0]
            .description
            .contains("kept in the notes as written"),
        "{report:?}"
    );
    // Imported with its good phone, the doubtful one in its notes as written.
    let found = c
        .search_customers(authorized(
            SearchCustomersRequest {
                query: "nurul".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customers
        .remove(0);
    let phones: Vec<&str> = found
        .phones
        .iter()
        .map(|p| p.e164_number.as_str())
        .collect();
    assert_eq!(phones, ["+60123456789"]);
    assert_eq!(
        found.notes,
        "Met at the Kuala Terengganu fair\nPhone as written: 12"
    );
}

#[tokio::test]
async fn an_import_updates_or_fails_duplicates_when_asked_and_a_dry_run_writes_nothing() {
    let server = spawn().await;
    let token = owner(&server).await;
    let mut c = client(&server);
    let existing = create(
        &mut c,
        &token,
        person("Siti", "Aminah", "siti@kilang.example"),
    )
    .await
    .unwrap();
    let changed = Customer {
        notes: "from the import".into(),
        ..person("Siti", "Aminah", "siti@kilang.example")
    };
    let importer = c.clone();
    let run = |policy: DuplicatePolicy, dry_run: bool, rows: Vec<Customer>| {
        let request = authorized(
            import_stream(
                ImportOptions {
                    duplicate_policy: policy as i32,
                    dry_run,
                    request_id: String::new(),
                },
                rows,
            ),
            &token,
        );
        let mut c = importer.clone();
        async move { c.import_customers(request).await.unwrap().into_inner() }
    };
    let dry = run(
        DuplicatePolicy::Update,
        true,
        vec![changed.clone(), person("Baru", "", "baru@kilang.example")],
    )
    .await;
    assert_eq!((dry.updated_count, dry.created_count), (1, 1));
    let listed = c
        .list_customers(authorized(ListCustomersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.customers.len(), 1, "a dry run writes nothing");

    let failed = run(DuplicatePolicy::Fail, false, vec![changed.clone()]).await;
    assert_eq!(failed.failed_count, 1);
    assert_eq!(failed.errors[0].field_violations[0].field, "customer.email");

    let updated = run(DuplicatePolicy::Update, false, vec![changed]).await;
    assert_eq!(updated.updated_count, 1);
    let after = c
        .get_customer(authorized(GetCustomerRequest { id: existing.id }, &token))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(after.notes, "from the import");
    assert_eq!(after.etag, "2");

    // Two rows of one import with one email: the first is created, the second is a duplicate.
    let twice = run(
        DuplicatePolicy::Skip,
        false,
        vec![
            person("Dua", "Satu", "twice@kilang.example"),
            person("Dua", "Dua", "TWICE@kilang.example"),
        ],
    )
    .await;
    assert_eq!((twice.created_count, twice.skipped_count), (1, 1));
    let dry_twice = run(
        DuplicatePolicy::Fail,
        true,
        vec![
            person("Tiga", "", "thrice@kilang.example"),
            person("Tiga", "Lagi", "thrice@kilang.example"),
        ],
    )
    .await;
    assert_eq!((dry_twice.created_count, dry_twice.failed_count), (1, 1));

    // Options must come first.
    let bad = authorized(
        futures::stream::iter(vec![ImportCustomersRequest {
            item: Some(import_customers_request::Item::Customer(person(
                "A", "", "",
            ))),
        }]),
        &token,
    );
    let err = c.import_customers(bad).await.unwrap_err();
    assert_eq!(fields(&err), ["options"]);
}

/// A taken email names its holder only to a caller who may read it: a rep with `:own` scope
/// learns the email is taken, not whose customer has it. Importing with duplicates set to
/// update, a row whose email is someone else's customer is rejected with its reason (nothing
/// of theirs changes) and the import goes on; set to fail, the reason names no id.
#[tokio::test]
async fn a_taken_email_is_named_only_to_who_may_read_it_and_an_import_goes_on_past_it() {
    let server = spawn().await;
    let tenant = TenantId::new();
    let own = [
        "customers.read:own",
        "customers.write:own",
        "customers.import",
    ];
    let rep = server.token_claiming(tenant, UserId::new(), &["sales_rep"], &own);
    let colleague = server.token_claiming(tenant, UserId::new(), &["sales_rep"], &own);
    let manager = server.token_claiming(
        tenant,
        UserId::new(),
        &["sales_manager"],
        &["customers.read", "customers.write"],
    );
    let mut c = client(&server);
    let theirs = create(
        &mut c,
        &colleague,
        person("Siti", "Aminah", "siti@kilang.example"),
    )
    .await
    .unwrap();

    let err = create(&mut c, &rep, person("Siti", "A", "siti@kilang.example"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(metadata(&err, "customer_id"), "", "not named to a rep");
    assert!(!err.message().contains(&theirs.id), "{}", err.message());
    let err = create(&mut c, &manager, person("Siti", "A", "siti@kilang.example"))
        .await
        .unwrap_err();
    assert_eq!(
        metadata(&err, "customer_id"),
        theirs.id,
        "named to a manager"
    );

    let import = |policy: DuplicatePolicy| {
        let request = authorized(
            import_stream(
                ImportOptions {
                    duplicate_policy: policy as i32,
                    dry_run: false,
                    request_id: String::new(),
                },
                vec![
                    Customer {
                        notes: "taken over by the import".into(),
                        ..person("Siti", "Aminah", "siti@kilang.example")
                    },
                    person(
                        "Baru",
                        "",
                        format!("baru{}@kilang.example", policy as i32).as_str(),
                    ),
                ],
            ),
            &rep,
        );
        let mut c = c.clone();
        async move { c.import_customers(request).await }
    };
    for policy in [DuplicatePolicy::Update, DuplicatePolicy::Fail] {
        let report = import(policy)
            .await
            .unwrap_or_else(|e| panic!("{policy:?}: the import goes on: {e:?}"))
            .into_inner();
        assert_eq!(
            (
                report.created_count,
                report.updated_count,
                report.failed_count
            ),
            (1, 0, 1),
            "{policy:?}"
        );
        let row = &report.errors[0];
        assert_eq!(row.row, 1, "{policy:?}");
        let said = format!("{:?}", row.field_violations);
        assert!(said.contains("someone else's"), "{policy:?}: {said}");
        assert!(!said.contains(&theirs.id), "{policy:?}: {said}");
    }
    let unchanged = c
        .get_customer(authorized(
            GetCustomerRequest {
                id: theirs.id.clone(),
            },
            &colleague,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(unchanged.notes, theirs.notes, "nothing of theirs changed");
}

/// A customer's owner is an active user of the tenant, on every RPC that sets one: another
/// tenant's user and an id of nobody are refused by field, a deactivated colleague too (a
/// change that leaves the owner alone still goes through), and an import rejects such a row
/// and goes on. IAM is asked with the caller's own credential, so it answers within their tenant.
#[tokio::test(flavor = "multi_thread")]
async fn a_customers_owner_is_an_active_user_of_the_tenant() {
    use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
    use crm_proto::crm::iam::v1::{UpdateUserRequest, User, UserStatus};

    let server = spawn().await;
    let kilang = register(&server, &unique_name("Kilang"), "owner@kilang.example").await;
    let other = register(&server, &unique_name("Lain"), "owner@lain.example").await;
    let ali = support::iam::invite(&server, &kilang, "ali@kilang.example", &["sales_rep"]).await;
    let mei = support::iam::invite(&server, &kilang, "mei@kilang.example", &["sales_rep"]).await;
    let token = &kilang.access;
    let mut c = client(&server);
    let owned_by = |owner: &str, name: &str| Customer {
        owner_id: owner.to_owned(),
        ..company(name, &[])
    };
    let refused = |err: Status, words: &str| {
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(fields(&err), ["customer.owner_id"], "{err:?}");
        assert!(err.message().contains(words), "{}", err.message());
    };

    // Create: another tenant's user, nobody, then a colleague.
    for stranger in [other.user.id.clone(), uuid::Uuid::now_v7().to_string()] {
        refused(
            create(&mut c, token, owned_by(&stranger, "Kedai Orang Lain"))
                .await
                .unwrap_err(),
            "is not a user of this tenant",
        );
    }
    let alis = create(&mut c, token, owned_by(&ali.id, "Kedai Ali"))
        .await
        .unwrap();
    assert_eq!(alis.owner_id, ali.id);

    // Mei leaves: nothing can be given to her, and Ali's customer is not given to a stranger.
    UserServiceClient::new(server.channel.clone())
        .update_user(authorized(
            UpdateUserRequest {
                user: Some(User {
                    id: mei.id.clone(),
                    status: UserStatus::Deactivated as i32,
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["status".into()],
                }),
            },
            token,
        ))
        .await
        .unwrap();
    let update = |owner: &str, notes: &str, paths: &[&str]| UpdateCustomerRequest {
        customer: Some(Customer {
            id: alis.id.clone(),
            owner_id: owner.to_owned(),
            notes: notes.to_owned(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    };
    for (owner, words) in [
        (mei.id.as_str(), "is deactivated"),
        (other.user.id.as_str(), "is not a user of this tenant"),
    ] {
        refused(
            c.update_customer(authorized(update(owner, "", &["owner_id"]), token))
                .await
                .unwrap_err(),
            words,
        );
    }
    // Naming the owner it already has, or not naming one, changes nothing about the owner.
    let kept = c
        .update_customer(authorized(
            update(&ali.id, "a good buyer", &["owner_id", "notes"]),
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(
        (kept.owner_id.as_str(), kept.notes.as_str()),
        (ali.id.as_str(), "a good buyer")
    );

    // Import: the rows given to Mei and to a stranger are rejected by field; the rest land.
    let rows = vec![
        owned_by(&ali.id, "Import Ali"),
        owned_by(&mei.id, "Import Mei"),
        owned_by(&other.user.id, "Import Lain"),
        owned_by(&ali.id, "Import Ali Lagi"),
    ];
    let options = ImportOptions {
        duplicate_policy: DuplicatePolicy::Skip as i32,
        dry_run: false,
        request_id: String::new(),
    };
    let report = c
        .import_customers(authorized(import_stream(options, rows), token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (report.created_count, report.failed_count),
        (2, 2),
        "{report:?}"
    );
    let rejected: Vec<(i64, String, String)> = report
        .errors
        .iter()
        .map(|e| {
            let v = &e.field_violations[0];
            (e.row, v.field.clone(), v.description.clone())
        })
        .collect();
    assert_eq!(rejected[0].0, 2);
    assert_eq!(rejected[1].0, 3);
    assert!(
        rejected.iter().all(|(_, f, _)| f == "customer.owner_id"),
        "{rejected:?}"
    );
    assert!(rejected[0].2.contains("is deactivated"), "{rejected:?}");
    assert!(
        rejected[1].2.contains("is not a user of this tenant"),
        "{rejected:?}"
    );
}
