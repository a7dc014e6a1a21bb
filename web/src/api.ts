// The CRM's services over grpc-web, with clients generated from proto/ (buf generate): the same
// origin by default, or VITE_GRPC_WEB_URL at build time.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "./gen/crm/iam/v1/auth_pb";
import { ApiKeyService } from "./gen/crm/iam/v1/api_keys_pb";
import { AuditService } from "./gen/crm/iam/v1/audit_pb";
import { MfaService } from "./gen/crm/iam/v1/mfa_pb";
import { RoleService } from "./gen/crm/iam/v1/roles_pb";
import { SsoService } from "./gen/crm/iam/v1/sso_pb";
import { TenantService } from "./gen/crm/iam/v1/tenants_pb";
import { UserService } from "./gen/crm/iam/v1/users_pb";
import { SavedViewService } from "./gen/crm/iam/v1/views_pb";
import { CustomerService } from "./gen/crm/customer/v1/customers_pb";
import { CustomFieldService } from "./gen/crm/customer/v1/custom_fields_pb";
import { LeadService } from "./gen/crm/sales/v1/leads_pb";
import { NotificationService } from "./gen/crm/notification/v1/notifications_pb";
import { TemplateService } from "./gen/crm/notification/v1/templates_pb";
import { OpportunityService } from "./gen/crm/sales/v1/opportunities_pb";
import { PipelineService } from "./gen/crm/sales/v1/pipelines_pb";
import { ActivityService } from "./gen/crm/activity/v1/activities_pb";
import { TaskService } from "./gen/crm/activity/v1/tasks_pb";
import { TimelineService } from "./gen/crm/activity/v1/timeline_pb";
import { EdgeService } from "./gen/crm/edge/v1/edge_pb";

let accessToken: string | undefined;

/** The access token sent with every call (none before sign-in). */
export function useToken(token: string | undefined) {
  accessToken = token;
}

const authorize: Interceptor = (next) => (request) => {
  if (accessToken) request.header.set("authorization", `Bearer ${accessToken}`);
  return next(request);
};

const base: string = import.meta.env.VITE_GRPC_WEB_URL ?? window.location.origin;

/** A REST call (for what grpc-web cannot carry: a client stream), with the session's token. */
export function rest(path: string, init: RequestInit): Promise<Response> {
  const headers = new Headers(init.headers);
  if (accessToken) headers.set("authorization", `Bearer ${accessToken}`);
  return fetch(base + path, { ...init, headers });
}

const transport = createGrpcWebTransport({
  baseUrl: base,
  interceptors: [authorize],
});

export const auth = createClient(AuthService, transport);
export const customers = createClient(CustomerService, transport);
export const customFields = createClient(CustomFieldService, transport);
export const leads = createClient(LeadService, transport);
export const opportunities = createClient(OpportunityService, transport);
export const pipelines = createClient(PipelineService, transport);
export const notifications = createClient(NotificationService, transport);
export const templates = createClient(TemplateService, transport);
export const users = createClient(UserService, transport);
export const roles = createClient(RoleService, transport);
export const audit = createClient(AuditService, transport);
export const apiKeys = createClient(ApiKeyService, transport);
export const mfa = createClient(MfaService, transport);
export const tenants = createClient(TenantService, transport);
export const sso = createClient(SsoService, transport);
export const savedViews = createClient(SavedViewService, transport);
export const activities = createClient(ActivityService, transport);
export const tasks = createClient(TaskService, transport);
export const timeline = createClient(TimelineService, transport);
/** Views composed from several contexts: the search box's `Search`. */
export const search = createClient(EdgeService, transport);
