-- The tenant's default currency: the large-deal threshold is in it. Rows recorded before this
-- column hold '' (not known): until the tenant's settings change again, winning any deal needs
-- deals.approve_large while a threshold is set (never let through on a guess).
alter table sales_tenants add column currency_code text not null default '';
