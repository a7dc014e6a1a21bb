//! The tenant's users, asked of IAM over gRPC (`UserService.GetUser`) with the caller's own
//! credential: IAM answers within the caller's tenant (another tenant's user is `NOT_FOUND`
//! there, as anywhere) and the caller's rights (`users.read`). Nothing is cached: a user
//! deactivated a moment ago is refused as an owner at once.

use std::time::Duration;

use async_trait::async_trait;
use crm_core::upstream::Balanced;
use crm_core::{Error, Result, UserId};
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::{GetUserRequest, UserStatus};
use tonic::Code;

use crate::domain::ports::{Credential, Members, Membership};

/// How long IAM has to answer.
const DEADLINE: Duration = Duration::from_secs(5);

/// IAM at `customer.iam_endpoint`.
pub struct GrpcMembers {
    channel: Balanced,
}

impl GrpcMembers {
    /// A client of IAM at `endpoint`: one address or several, taken in turn around the ones
    /// that fail (connected on first use).
    pub fn new(endpoint: &str) -> anyhow::Result<GrpcMembers> {
        let channel = Balanced::connect("customer", "iam", "customer.iam_endpoint", endpoint)?;
        Ok(GrpcMembers { channel })
    }
}

#[async_trait]
impl Members for GrpcMembers {
    async fn membership(&self, credential: &Credential, user: UserId) -> Result<Membership> {
        let mut request = tonic::Request::new(GetUserRequest {
            id: user.to_string(),
        });
        request.set_timeout(DEADLINE);
        let value = credential
            .value
            .parse()
            .map_err(|_| Error::unauthenticated("the credential is not a valid header value"))?;
        request.metadata_mut().insert(credential.name, value);
        match UserServiceClient::new(self.channel.clone())
            .get_user(request)
            .await
        {
            Ok(answer) => {
                let status = answer
                    .into_inner()
                    .user
                    .map(|u| u.status)
                    .unwrap_or_default();
                Ok(if status == UserStatus::Active as i32 {
                    Membership::Active
                } else {
                    Membership::Inactive
                })
            }
            Err(status) if status.code() == Code::NotFound => Ok(Membership::Unknown),
            Err(status) if status.code() == Code::PermissionDenied => {
                Err(Error::permission_denied(status.message().to_owned())
                    .with_reason("MISSING_PERMISSION"))
            }
            Err(status) => Err(Error::unavailable(
                "the identity service did not answer",
                anyhow::anyhow!("IAM's GetUser: {status}"),
            )),
        }
    }
}

/// No IAM configured: an owner other than the caller cannot be checked, so none is accepted.
pub struct Unconfigured;

#[async_trait]
impl Members for Unconfigured {
    async fn membership(&self, _: &Credential, _: UserId) -> Result<Membership> {
        Err(Error::unavailable(
            "the identity service is not configured for the customer service",
            anyhow::anyhow!(
                "set `customer.iam_endpoint` (CRM_CUSTOMER__IAM_ENDPOINT) to IAM's address, e.g. http://iam:50051"
            ),
        ))
    }
}
