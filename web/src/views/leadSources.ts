import { LeadSource } from "../gen/crm/sales/v1/leads_pb";

/** Where leads come from, as people say it. */
export const SOURCES: [LeadSource, string][] = [
  [LeadSource.WALK_IN, "Walk-in"],
  [LeadSource.REFERRAL, "Referral"],
  [LeadSource.WEBSITE, "Website"],
  [LeadSource.SOCIAL_MEDIA, "Social media"],
  [LeadSource.TRADE_SHOW, "Trade show"],
  [LeadSource.EMAIL_CAMPAIGN, "Email campaign"],
  [LeadSource.COLD_OUTREACH, "Cold outreach"],
  [LeadSource.OTHER, "Other"],
];
