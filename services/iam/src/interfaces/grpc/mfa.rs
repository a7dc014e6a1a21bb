//! MfaService: the caller's second factor.

use super::*;

#[tonic::async_trait]
impl pb::mfa_service_server::MfaService for IamGrpc {
    async fn start_mfa_enrollment(
        &self,
        request: Request<pb::StartMfaEnrollmentRequest>,
    ) -> Reply<pb::StartMfaEnrollmentResponse> {
        let caller = caller(&request)?;
        let enrolment = self.iam.start_mfa_enrollment(&caller).await?;
        Ok(Response::new(pb::StartMfaEnrollmentResponse {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
        }))
    }

    async fn confirm_mfa_enrollment(
        &self,
        request: Request<pb::ConfirmMfaEnrollmentRequest>,
    ) -> Reply<pb::ConfirmMfaEnrollmentResponse> {
        let caller = caller(&request)?;
        let code = bounded("code", &request.get_ref().code, MAX_TEXT)?;
        let recovery_codes = self.iam.confirm_mfa_enrollment(&caller, code).await?;
        Ok(Response::new(pb::ConfirmMfaEnrollmentResponse {
            recovery_codes,
        }))
    }

    async fn disable_mfa(
        &self,
        request: Request<pb::DisableMfaRequest>,
    ) -> Reply<pb::DisableMfaResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let user = user_id("user_id", &r.user_id)?;
        let code = bounded("code", &r.code, MAX_TEXT)?;
        self.iam.disable_mfa(&caller, user, code).await?;
        Ok(Response::new(pb::DisableMfaResponse {}))
    }

    async fn regenerate_recovery_codes(
        &self,
        request: Request<pb::RegenerateRecoveryCodesRequest>,
    ) -> Reply<pb::RegenerateRecoveryCodesResponse> {
        let caller = caller(&request)?;
        let code = bounded("code", &request.get_ref().code, MAX_TEXT)?;
        let recovery_codes = self.iam.regenerate_recovery_codes(&caller, code).await?;
        Ok(Response::new(pb::RegenerateRecoveryCodesResponse {
            recovery_codes,
        }))
    }
}
