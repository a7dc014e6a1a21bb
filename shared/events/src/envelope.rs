//! The envelope every event travels in: CloudEvents attributes around a protobuf payload.
//! In Kafka they are binary-mode headers (`ce_id`, `ce_type`, ...); in the outbox, columns.

use prost::{Message, Name};
use uuid::Uuid;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// An event with its CloudEvents attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// `ce_id`: UUIDv7, unique per event; consumers deduplicate on it.
    pub id: Uuid,
    /// `ce_source`: the producing service, e.g. `crm.iam`.
    pub source: String,
    /// `ce_type`: the full protobuf message name, e.g. `crm.iam.events.v1.UserCreated`.
    pub event_type: String,
    /// `ce_time`, in milliseconds since the epoch.
    pub time: Millis,
    /// `ce_subject`: the aggregate's id; the Kafka key, so one aggregate's events keep their order.
    pub subject: String,
    /// The tenant.
    pub tenant_id: String,
    /// The correlation id of the request that caused it.
    pub correlation_id: Option<String>,
    /// The id of the event that caused it, when a handler produced it.
    pub causation_id: Option<String>,
    /// The W3C `traceparent` of the causing request.
    pub traceparent: Option<String>,
    /// The encoded protobuf message.
    pub payload: Vec<u8>,
}

/// Where an event comes from in the request that produced it.
#[derive(Clone, Debug, Default)]
pub struct Causation {
    /// The request's correlation id.
    pub correlation_id: Option<String>,
    /// The event being handled, if any.
    pub causation_id: Option<String>,
    /// The request's `traceparent`.
    pub traceparent: Option<String>,
}

impl Causation {
    /// What the events of a request carry: its correlation id and trace.
    pub fn of_request(context: &crm_core::RequestContext) -> Causation {
        Causation {
            correlation_id: Some(context.correlation_id.clone()),
            causation_id: None,
            traceparent: context.traceparent.clone(),
        }
    }
}

impl Envelope {
    /// Wraps a message of a `crm.<context>.events.v1` package.
    pub fn new<M: Message + Name>(
        source: &str,
        tenant_id: impl ToString,
        subject: impl ToString,
        event: &M,
        causation: &Causation,
    ) -> Envelope {
        Envelope {
            id: Uuid::now_v7(),
            source: source.to_owned(),
            event_type: M::full_name(),
            time: chrono::Utc::now().timestamp_millis(),
            subject: subject.to_string(),
            tenant_id: tenant_id.to_string(),
            correlation_id: causation.correlation_id.clone(),
            causation_id: causation.causation_id.clone(),
            traceparent: causation.traceparent.clone(),
            payload: event.encode_to_vec(),
        }
    }

    /// Whether the payload is an `M`.
    pub fn is<M: Name>(&self) -> bool {
        self.event_type == M::full_name()
    }

    /// Decodes the payload as `M`; `None` when it is another type or does not decode.
    pub fn decode<M: Message + Name + Default>(&self) -> Option<M> {
        if self.is::<M>() {
            M::decode(self.payload.as_slice()).ok()
        } else {
            None
        }
    }

    /// The topic it goes to: its package, e.g. `crm.iam.events.v1`.
    pub fn topic(&self) -> &str {
        topic_of(&self.event_type)
    }

    /// CloudEvents binary-mode headers (and ours: tenant, correlation, causation, traceparent).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let time = chrono::DateTime::from_timestamp_millis(self.time).unwrap_or_default();
        let mut headers = vec![
            ("ce_specversion", "1.0".to_owned()),
            ("ce_id", self.id.to_string()),
            ("ce_source", self.source.clone()),
            ("ce_type", self.event_type.clone()),
            (
                "ce_time",
                time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
            ("ce_subject", self.subject.clone()),
            ("content-type", "application/protobuf".to_owned()),
            ("ce_tenant", self.tenant_id.clone()),
        ];
        for (name, value) in [
            ("ce_correlationid", &self.correlation_id),
            ("ce_causationid", &self.causation_id),
            ("traceparent", &self.traceparent),
        ] {
            if let Some(value) = value {
                headers.push((name, value.clone()));
            }
        }
        headers
    }

    /// Rebuilds an envelope from headers and a payload; `None` if a required attribute is missing.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        payload: Vec<u8>,
    ) -> Option<Envelope> {
        let mut get = std::collections::HashMap::new();
        for (k, v) in headers {
            get.insert(k, String::from_utf8_lossy(v).into_owned());
        }
        let time = chrono::DateTime::parse_from_rfc3339(get.get("ce_time")?)
            .ok()?
            .timestamp_millis();
        Some(Envelope {
            id: Uuid::try_parse(get.get("ce_id")?).ok()?,
            source: get.get("ce_source")?.clone(),
            event_type: get.get("ce_type")?.clone(),
            time,
            subject: get.get("ce_subject").cloned().unwrap_or_default(),
            tenant_id: get.get("ce_tenant").cloned().unwrap_or_default(),
            correlation_id: get.get("ce_correlationid").cloned(),
            causation_id: get.get("ce_causationid").cloned(),
            traceparent: get.get("traceparent").cloned(),
            payload,
        })
    }
}

/// The topic of an event type: the type's package (`crm.iam.events.v1.UserCreated` →
/// `crm.iam.events.v1`). A breaking change is a new `v2` package, hence a new topic.
pub fn topic_of(event_type: &str) -> &str {
    event_type
        .rsplit_once('.')
        .map(|(package, _)| package)
        .unwrap_or(event_type)
}

/// The dead-letter topic of a topic.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

#[cfg(test)]
mod tests {
    use crm_proto::crm::iam::events::v1::{UserCreated, UserRoleChanged};

    use super::*;

    fn event() -> Envelope {
        let causation = Causation {
            correlation_id: Some("req-1".into()),
            causation_id: None,
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        };
        Envelope::new(
            "crm.iam",
            "tenant-1",
            "user-1",
            &UserCreated {
                email: "siti@kilang.example".into(),
                ..Default::default()
            },
            &causation,
        )
    }

    #[test]
    fn events_are_typed_by_their_protobuf_name_and_topic_by_package() {
        let e = event();
        assert_eq!(e.event_type, "crm.iam.events.v1.UserCreated");
        assert_eq!(e.topic(), "crm.iam.events.v1");
        assert_eq!(dlq_topic(e.topic()), "crm.iam.events.v1.dlq");
        assert_eq!(
            e.decode::<UserCreated>().unwrap().email,
            "siti@kilang.example"
        );
        assert!(
            e.decode::<UserRoleChanged>().is_none(),
            "another type does not decode"
        );
    }

    #[test]
    fn cloudevents_headers_round_trip() {
        let e = event();
        let headers = e.headers();
        let names: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
        for required in [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "ce_subject",
            "content-type",
            "traceparent",
        ] {
            assert!(names.contains(&required), "{required}");
        }
        let back = Envelope::from_headers(
            headers.iter().map(|(k, v)| (*k, v.as_bytes())),
            e.payload.clone(),
        )
        .unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn an_old_consumer_decodes_an_event_with_a_field_it_does_not_know() {
        // A compatible change (a new field) stays in v1: encode with a field number the
        // message does not have, decode with today's message.
        let mut bytes = UserCreated {
            email: "siti@kilang.example".into(),
            ..Default::default()
        }
        .encode_to_vec();
        prost::encoding::string::encode(99, &"a field from the future".to_owned(), &mut bytes);
        let decoded = UserCreated::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.email, "siti@kilang.example");
    }
}
