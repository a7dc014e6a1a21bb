//! gRPC ⇄ use cases: `crm.customer.v1.CustomFieldService`.

use crm_core::api::{bounded, bounded_list, mask_paths, timestamp};
use crm_core::{Error, Result};
use crm_proto::crm::customer::v1 as pb;
use tonic::{Request, Response, Status};

use super::{MAX_ETAG, caller};
use crate::application::Customers;
use crate::domain::custom_field::{
    CustomField, FieldInput, FieldType, MAX_LABEL, MAX_OPTION, MAX_OPTIONS, UPDATABLE,
};
use crate::domain::values::MAX_CUSTOM_KEY;

/// The custom field service over [`Customers`].
#[derive(Clone)]
pub struct CustomFieldGrpc {
    customers: Customers,
}

impl CustomFieldGrpc {
    /// Serves `customers`' custom fields.
    pub fn new(customers: Customers) -> CustomFieldGrpc {
        CustomFieldGrpc { customers }
    }
}

fn type_pb(t: FieldType) -> pb::CustomFieldType {
    match t {
        FieldType::Text => pb::CustomFieldType::Text,
        FieldType::Number => pb::CustomFieldType::Number,
        FieldType::Date => pb::CustomFieldType::Date,
        FieldType::Bool => pb::CustomFieldType::Bool,
        FieldType::Choice => pb::CustomFieldType::Choice,
    }
}

/// A definition as the contract's message.
pub fn custom_field_pb(f: &CustomField) -> pb::CustomField {
    pb::CustomField {
        key: f.key.clone(),
        label: f.label.clone(),
        r#type: type_pb(f.field_type) as i32,
        options: f.options.clone(),
        required: f.required,
        create_time: Some(timestamp(f.created_at)),
        update_time: Some(timestamp(f.updated_at)),
        etag: f.version.to_string(),
    }
}

/// What a client sent as a definition, its sizes bounded before the rules read it.
fn input(f: &pb::CustomField) -> Result<FieldInput> {
    bounded("custom_field.key", &f.key, MAX_CUSTOM_KEY * 4)?;
    bounded("custom_field.label", &f.label, MAX_LABEL * 4)?;
    bounded_list(
        "custom_field.options",
        &f.options,
        MAX_OPTIONS,
        MAX_OPTION * 4,
    )?;
    let field_type = match pb::CustomFieldType::try_from(f.r#type) {
        Ok(pb::CustomFieldType::Text) => Some(FieldType::Text),
        Ok(pb::CustomFieldType::Number) => Some(FieldType::Number),
        Ok(pb::CustomFieldType::Date) => Some(FieldType::Date),
        Ok(pb::CustomFieldType::Bool) => Some(FieldType::Bool),
        Ok(pb::CustomFieldType::Choice) => Some(FieldType::Choice),
        Ok(pb::CustomFieldType::Unspecified) => None,
        Err(_) => {
            return Err(Error::invalid_field(
                "custom_field.type",
                format!("{} is not a custom field type", f.r#type),
            ));
        }
    };
    Ok(FieldInput {
        key: f.key.clone(),
        label: f.label.clone(),
        field_type,
        options: f.options.clone(),
        required: f.required,
    })
}

type Reply<T> = std::result::Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::custom_field_service_server::CustomFieldService for CustomFieldGrpc {
    async fn list_custom_fields(
        &self,
        request: Request<pb::ListCustomFieldsRequest>,
    ) -> Reply<pb::ListCustomFieldsResponse> {
        let caller = caller(&request)?;
        let fields = self.customers.custom_fields(&caller).await?;
        Ok(Response::new(pb::ListCustomFieldsResponse {
            custom_fields: fields.iter().map(custom_field_pb).collect(),
        }))
    }

    async fn create_custom_field(
        &self,
        request: Request<pb::CreateCustomFieldRequest>,
    ) -> Reply<pb::CreateCustomFieldResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let input = input(&r.custom_field.clone().unwrap_or_default())?;
        let response = self
            .customers
            .idempotency()
            .once(
                &caller.principal,
                crate::domain::custom_field::MANAGE,
                "CreateCustomField",
                &r.request_id,
                &r,
                || async {
                    let field = self.customers.create_custom_field(&caller, input).await?;
                    Ok(pb::CreateCustomFieldResponse {
                        custom_field: Some(custom_field_pb(&field)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn update_custom_field(
        &self,
        request: Request<pb::UpdateCustomFieldRequest>,
    ) -> Reply<pb::UpdateCustomFieldResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let f = r.custom_field.unwrap_or_default();
        bounded("custom_field.etag", &f.etag, MAX_ETAG)?;
        let set = [
            ("label", !f.label.is_empty()),
            ("options", !f.options.is_empty()),
            ("required", f.required),
        ];
        let paths = mask_paths(r.update_mask, &set, UPDATABLE)?;
        let input = input(&f)?;
        let field = self
            .customers
            .update_custom_field(&caller, &f.key, &f.etag, input, paths)
            .await?;
        Ok(Response::new(pb::UpdateCustomFieldResponse {
            custom_field: Some(custom_field_pb(&field)),
        }))
    }

    async fn delete_custom_field(
        &self,
        request: Request<pb::DeleteCustomFieldRequest>,
    ) -> Reply<pb::DeleteCustomFieldResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        bounded("key", &r.key, MAX_CUSTOM_KEY * 4)?;
        bounded("etag", &r.etag, MAX_ETAG)?;
        self.customers
            .delete_custom_field(&caller, &r.key, &r.etag)
            .await?;
        Ok(Response::new(pb::DeleteCustomFieldResponse {}))
    }
}
