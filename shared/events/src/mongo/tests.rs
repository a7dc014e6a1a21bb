use super::*;
use crate::envelope::Causation;

fn envelope() -> Envelope {
    let mut e = Envelope::new(
        "crm.customer",
        "tenant-1",
        "customer-9",
        &crm_proto::crm::iam::events::v1::UserCreated {
            email: "siti@kilang.example".into(),
            ..Default::default()
        },
        &Causation {
            correlation_id: Some("req-7".into()),
            causation_id: None,
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        },
    );
    e.time = 1_700_000_000_123;
    e
}

#[test]
fn an_event_document_round_trips_every_attribute() {
    let e = envelope();
    let d = event_document(42, "customer", &e);
    assert_eq!(d.get_i64("_id").unwrap(), 42);
    assert_eq!(d.get_str("aggregate_type").unwrap(), "customer");
    assert_eq!(d.get_str("aggregate_id").unwrap(), "customer-9");
    assert_eq!(d.get_i64("occurred_at").unwrap(), 1_700_000_000_123);
    assert!(
        matches!(d.get("published_at"), Some(Bson::Null)),
        "a new event is pending: {d}"
    );
    assert!(
        matches!(d.get("causation_id"), Some(Bson::Null)),
        "absent attributes are null"
    );
    match d.get("payload") {
        Some(Bson::Binary(b)) => {
            assert_eq!(b.subtype, BinarySubtype::Generic);
            assert_eq!(b.bytes, e.payload);
        }
        other => panic!("payload is stored as binary, got {other:?}"),
    }
    let back = logged_from(&d).unwrap();
    assert_eq!((back.seq, back.envelope), (42, e));
}

#[test]
fn a_document_survives_a_bson_encoding() {
    // What the server stores and sends back is the BSON bytes, not the in-memory document.
    let e = envelope();
    let bytes = bson::to_vec(&event_document(7, "customer", &e)).unwrap();
    let d: Document = bson::from_slice(&bytes).unwrap();
    assert_eq!(logged_from(&d).unwrap().envelope, e);
}

#[test]
fn whole_numbers_read_in_either_width() {
    let d = doc! { "small": 3_i32, "large": 3_000_000_000_i64, "text": "3" };
    assert_eq!(long(&d, "small").unwrap(), 3);
    assert_eq!(long(&d, "large").unwrap(), 3_000_000_000);
    assert!(long(&d, "text").is_err());
    assert!(long(&d, "missing").is_err());
}

#[test]
fn a_malformed_document_names_its_field() {
    let mut d = event_document(1, "customer", &envelope());
    d.insert("id", "not-a-uuid");
    let err = logged_from(&d).unwrap_err().to_string();
    assert!(err.contains("`id`"), "{err}");
    let mut d = event_document(1, "customer", &envelope());
    d.remove("payload");
    assert!(
        logged_from(&d)
            .unwrap_err()
            .to_string()
            .contains("`payload`")
    );
    let mut d = event_document(1, "customer", &envelope());
    d.insert("traceparent", 5_i32);
    assert!(
        logged_from(&d)
            .unwrap_err()
            .to_string()
            .contains("`traceparent`")
    );
}

#[test]
fn the_seq_counter_is_one_document_incremented_by_the_events_appended() {
    let (filter, update) = next_seqs(1);
    assert_eq!(filter, doc! { "_id": "seq" });
    assert_eq!(update, doc! { "$inc": { "value": 1_i64 } });
    assert_eq!(next_seqs(3).1, doc! { "$inc": { "value": 3_i64 } });
}

#[test]
fn appended_events_take_the_positions_reserved_in_order() {
    let (a, b, c) = (envelope(), envelope(), envelope());
    let docs = event_documents(12, &[("customer", &a), ("customer", &b), ("user", &c)]);
    let seqs: Vec<i64> = docs.iter().map(|d| d.get_i64("_id").unwrap()).collect();
    assert_eq!(
        seqs,
        [10, 11, 12],
        "the counter holds the last position reserved"
    );
    assert_eq!(logged_from(&docs[1]).unwrap().envelope, b);
    assert_eq!(docs[2].get_str("aggregate_type").unwrap(), "user");
}

#[test]
fn reads_filter_pending_and_after_a_position() {
    assert_eq!(pending_filter(), doc! { "published_at": Bson::Null });
    assert_eq!(after_filter(10), doc! { "_id": { "$gt": 10_i64 } });
    let pipeline = backlog_pipeline();
    assert_eq!(
        pipeline[0],
        doc! { "$match": { "published_at": Bson::Null } }
    );
    assert_eq!(
        pipeline[1]
            .get_document("$group")
            .unwrap()
            .get_document("oldest")
            .unwrap(),
        &doc! { "$min": "$occurred_at" }
    );
}

#[test]
fn marking_published_touches_exactly_the_given_pending_events() {
    let (filter, update) = mark_published(&[3, 5, 9], 1000);
    assert_eq!(
        filter,
        doc! { "_id": { "$in": [3_i64, 5_i64, 9_i64] }, "published_at": Bson::Null }
    );
    assert_eq!(update, doc! { "$set": { "published_at": 1000_i64 } });
}

#[test]
fn pruning_keeps_what_a_consumer_has_not_passed() {
    assert_eq!(
        prune_filter(5000, Some(12)),
        doc! { "published_at": { "$ne": Bson::Null, "$lt": 5000_i64 }, "_id": { "$lte": 12_i64 } }
    );
    assert_eq!(
        prune_filter(5000, None),
        doc! { "published_at": { "$ne": Bson::Null, "$lt": 5000_i64 } },
        "with no consumer cursor, only age counts"
    );
}

#[test]
fn cursors_are_keyed_by_consumer_and_topic() {
    assert_eq!(
        cursor_id("notification", "crm.customer.events.v1"),
        doc! { "_id": { "consumer": "notification", "topic": "crm.customer.events.v1" } }
    );
}

#[test]
fn the_relay_reads_with_an_index() {
    let keys: Vec<Document> = indexes().into_iter().map(|i| i.keys).collect();
    assert_eq!(keys[0], doc! { "published_at": 1, "_id": 1 });
}
