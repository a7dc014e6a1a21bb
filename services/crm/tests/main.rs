//! The served CRM tried from outside, as its users and operators call it: one test binary (it
//! links the whole CRM once), a module per area. `cargo test -p crm --test integration`; one
//! area with a filter, e.g. `cargo test -p crm --test integration -- conversions::`.

mod support;

mod activities;
mod api;
mod api_keys;
mod approvals;
mod batches;
mod binary;
mod contexts;
mod conversions;
mod custom_fields;
mod customers;
#[cfg(feature = "kafka")]
mod events;
mod gateway;
mod hardening;
mod iam;
mod invitations;
mod languages;
mod leads;
mod mfa;
mod notifications;
mod opportunity_lists;
mod pipelines;
mod readiness;
mod rest;
mod restore;
mod search;
mod service_identity;
mod sessions;
mod sign_in;
mod sso;
mod tls;
mod traces;
mod views;
mod visibility;
