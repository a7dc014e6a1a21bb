-- The survey after a lost deal is off until the tenant turns it on, and no customer message
-- shows an opportunity's internal name: a tenant's built-in survey templates that were never
-- changed (version 1) are turned off and take the new wording. Changed ones are the tenant's.
update templates set enabled = 0,
    doc = jsonb_set(jsonb_set(doc::jsonb, '{enabled}', 'false'), '{body}', to_jsonb('Dear {{ customer_name }},

Thank you for considering {{ tenant_name }}. We would value a word on why it did not go ahead this time, so we can do better: simply reply to this email.

{{ tenant_name }}'::text))::text
where name = 'deal lost (en)' and event_type = 'crm.sales.events.v1.DealLost' and version = 1;
update templates set enabled = 0,
    doc = jsonb_set(jsonb_set(doc::jsonb, '{enabled}', 'false'), '{body}', to_jsonb('{{ customer_name }} yang dihormati,

Terima kasih kerana mempertimbangkan {{ tenant_name }}. Kami menghargai maklum balas anda tentang sebab urusan ini tidak diteruskan kali ini: balas sahaja e-mel ini.

{{ tenant_name }}'::text))::text
where name = 'deal lost (ms)' and event_type = 'crm.sales.events.v1.DealLost' and version = 1;
