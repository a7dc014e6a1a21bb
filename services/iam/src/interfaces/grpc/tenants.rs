//! TenantService: the caller's tenant.

use super::*;
use crate::domain::mfa::MfaPolicy;
use crate::domain::visibility::CustomerVisibility;

/// The mask path that changes only the import's columns (`settings` leaves them).
const IMPORT_COLUMNS: &str = "settings.import_columns";

#[tonic::async_trait]
impl pb::tenant_service_server::TenantService for IamGrpc {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Reply<pb::CreateTenantResponse> {
        caller(&request)?;
        Err(Error::permission_denied(
            "creating tenants is for operators (`crm tenant create`) and for sign-up (AuthService/Register)",
        )
        .with_reason("OPERATORS_ONLY")
        .into())
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Reply<pb::GetTenantResponse> {
        let caller = caller(&request)?;
        let id = TenantId::from(api::uuid("id", &request.get_ref().id, "a tenant id")?);
        let tenant = self.iam.get_tenant(&caller, id).await?;
        Ok(Response::new(pb::GetTenantResponse {
            tenant: Some(tenant_pb(&tenant)),
        }))
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Reply<pb::UpdateTenantResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let t = r
            .tenant
            .ok_or_else(|| Error::invalid_field("tenant", "is required"))?;
        let id = TenantId::from(api::uuid("tenant.id", &t.id, "a tenant id")?);
        bounded("tenant.name", &t.name, MAX_TEXT)?;
        if let Some(settings) = &t.settings {
            bounded(
                "tenant.settings.default_currency_code",
                &settings.default_currency_code,
                64,
            )?;
            bounded("tenant.settings.time_zone", &settings.time_zone, 64)?;
            bounded("tenant.settings.locale", &settings.locale, 64)?;
        }
        let columns_given = t
            .settings
            .as_ref()
            .is_some_and(|s| !s.import_columns.is_empty());
        let set = [
            ("name", !t.name.is_empty()),
            ("settings", t.settings.is_some()),
            (IMPORT_COLUMNS, columns_given),
        ];
        let paths = mask_paths(r.update_mask, &set, &["name", "settings", IMPORT_COLUMNS])?;
        let name = paths.iter().any(|p| p == "name").then_some(t.name.as_str());
        let import_columns = paths.iter().any(|p| p == IMPORT_COLUMNS).then(|| {
            t.settings
                .as_ref()
                .map(|s| s.import_columns.clone())
                .unwrap_or_default()
        });
        let settings = paths.iter().any(|p| p == "settings").then(|| {
            let s = t.settings.clone().unwrap_or_default();
            let mfa_policy = MfaPolicy::from_i32(s.mfa_policy).ok_or_else(|| {
                Error::invalid_field(
                    "tenant.settings.mfa_policy",
                    format!("{} is not an MfaPolicy", s.mfa_policy),
                )
            })?;
            Ok::<_, Error>(TenantSettings {
                default_currency_code: s.default_currency_code,
                time_zone: s.time_zone,
                locale: s.locale,
                deal_approval_threshold_units: s.deal_approval_threshold_units,
                session_idle_timeout_minutes: i64::from(s.session_idle_timeout_minutes),
                session_max_lifetime_hours: i64::from(s.session_max_lifetime_hours),
                mfa_policy,
                // Changed only under their own path, below.
                import_columns: Default::default(),
                customer_visibility: match s.customer_visibility {
                    0 => None,
                    n => Some(CustomerVisibility::from_i32(n).ok_or_else(|| {
                        Error::invalid_field(
                            "tenant.settings.customer_visibility",
                            format!("{n} is not a CustomerVisibility"),
                        )
                    })?),
                },
            })
        });
        let settings = settings.transpose()?;
        let tenant = self
            .iam
            .update_tenant(
                &caller,
                id,
                bounded("tenant.etag", &t.etag, MAX_ETAG)?,
                name,
                settings,
                import_columns,
            )
            .await?;
        Ok(Response::new(pb::UpdateTenantResponse {
            tenant: Some(tenant_pb(&tenant)),
        }))
    }
}
