//! The built-in templates every tenant starts with, in English and Malay, and the fixed welcome
//! of a new workspace's first user.

use crm_core::TenantId;
use uuid::Uuid;

use super::Millis;
use super::catalogue::{
    APPROVAL_DECIDED, APPROVAL_REQUESTED, DEAL_LOST, DEAL_WON, LEAD_CREATED, USER_CREATED,
    USER_INVITED,
};
use super::template::{Channel, Template};

/// A built-in template: what every tenant starts with.
#[derive(Clone, Copy, Debug)]
pub struct BuiltIn {
    /// Its name in the tenant.
    pub name: &'static str,
    /// Its event type.
    pub event_type: &'static str,
    /// Its channel.
    pub channel: Channel,
    /// Its locale.
    pub locale: &'static str,
    /// Its subject.
    pub subject: &'static str,
    /// Its body.
    pub body: &'static str,
    /// Whether it is on until the tenant says otherwise. The survey after a lost deal is off:
    /// asking a customer why they said no is the tenant's choice to make.
    pub enabled: bool,
}

/// The welcome to someone who signed up a new workspace, in English and Malay. Nobody has
/// confirmed the address yet, so it carries no word the caller chose (no workspace or person's
/// name): sign-up cannot be used to mail someone else a message. Fixed: never a tenant's own
/// template.
pub const SIGNED_UP: &[BuiltIn] = &[
    BuiltIn {
        name: "signed up (en)",
        enabled: true,
        event_type: USER_CREATED,
        channel: Channel::Email,
        locale: "en",
        subject: "Welcome to Kilang CRM",
        body: "Hello,\n\nA Kilang CRM workspace has just been created with this email address as \
               its owner. Sign in with this address and the password chosen at sign-up.\n\n\
               If this was not you, you can ignore this email.\n\nKilang CRM",
    },
    BuiltIn {
        name: "signed up (ms)",
        enabled: true,
        event_type: USER_CREATED,
        channel: Channel::Email,
        locale: "ms",
        subject: "Selamat datang ke Kilang CRM",
        body: "Salam,\n\nRuang kerja Kilang CRM baru sahaja dibuka dengan alamat e-mel ini sebagai \
               pemiliknya. Log masuk dengan alamat ini dan kata laluan yang dipilih semasa \
               mendaftar.\n\nJika ini bukan anda, abaikan sahaja e-mel ini.\n\nKilang CRM",
    },
];

/// The invitation to join a workspace, in English and Malay: it names the workspace and who
/// invited, and carries the one-time link. Fixed, so no template can leave the link out; the
/// names in it are the workspace's and a signed-in member's.
pub const INVITED: &[BuiltIn] = &[
    BuiltIn {
        name: "invited (en)",
        enabled: true,
        event_type: USER_INVITED,
        channel: Channel::Email,
        locale: "en",
        subject: "{% if inviter_name %}{{ inviter_name }} invited you{% else %}You are invited{% endif %} to {{ tenant_name }}",
        body: "Hello {{ user_name }},\n\n{% if inviter_name %}{{ inviter_name }}{% else %}Someone\
               {% endif %} invited you to join {{ tenant_name }} on Kilang CRM as {{ roles }}, \
               signing in with this email address ({{ user_email }}).\n\nChoose your password \
               here (the link works once, until {{ expires }}):\n{{ link }}\n\nIf you did not \
               expect this, ignore this email: nothing happens unless the link is opened.\n\n\
               Kilang CRM",
    },
    BuiltIn {
        name: "invited (ms)",
        enabled: true,
        event_type: USER_INVITED,
        channel: Channel::Email,
        locale: "ms",
        subject: "{% if inviter_name %}{{ inviter_name }} menjemput anda{% else %}Anda dijemput{% endif %} ke {{ tenant_name }}",
        body: "Salam {{ user_name }},\n\n{% if inviter_name %}{{ inviter_name }}{% else %}Seseorang\
               {% endif %} menjemput anda menyertai {{ tenant_name }} di Kilang CRM sebagai \
               {{ roles }}, log masuk dengan alamat e-mel ini ({{ user_email }}).\n\nPilih kata \
               laluan anda di sini (pautan ini boleh digunakan sekali, sehingga {{ expires }}):\n\
               {{ link }}\n\nJika anda tidak menjangkakan e-mel ini, abaikan sahaja: tiada apa \
               berlaku selagi pautan tidak dibuka.\n\nKilang CRM",
    },
];

/// The built-in templates, in English and Malay, for the six flows. A customer's message never
/// shows an internal name (an opportunity's is the team's shorthand, "Hotel: new business").
pub const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        name: "welcome (en)",
        enabled: true,
        event_type: USER_CREATED,
        channel: Channel::Email,
        locale: "en",
        subject: "Welcome to {{ tenant_name }}",
        body: "Hello {{ user_name }},\n\nAn account has been made for you ({{ user_email }}) at \
               {{ tenant_name }}. Sign in with this email address.\n\n{{ tenant_name }}",
    },
    BuiltIn {
        name: "welcome (ms)",
        enabled: true,
        event_type: USER_CREATED,
        channel: Channel::Email,
        locale: "ms",
        subject: "Selamat datang ke {{ tenant_name }}",
        body: "Salam {{ user_name }},\n\nAkaun telah dibuka untuk anda ({{ user_email }}) di \
               {{ tenant_name }}. Log masuk dengan alamat e-mel ini.\n\n{{ tenant_name }}",
    },
    BuiltIn {
        name: "new lead (en)",
        enabled: true,
        event_type: LEAD_CREATED,
        channel: Channel::InApp,
        locale: "en",
        subject: "New lead: {{ lead_name }}{% if lead_company %} ({{ lead_company }}){% endif %}",
        body: "{{ created_by_name }} added a lead from {{ lead_source or 'an unknown source' }}\
               {% if owner_name %}, owned by {{ owner_name }}{% endif %}.",
    },
    BuiltIn {
        name: "new lead (ms)",
        enabled: true,
        event_type: LEAD_CREATED,
        channel: Channel::InApp,
        locale: "ms",
        subject: "Prospek baharu: {{ lead_name }}{% if lead_company %} ({{ lead_company }}){% endif %}",
        body: "{{ created_by_name }} menambah prospek daripada {{ lead_source or 'sumber tidak diketahui' }}\
               {% if owner_name %}, dimiliki oleh {{ owner_name }}{% endif %}.",
    },
    BuiltIn {
        name: "deal won (en)",
        enabled: true,
        event_type: DEAL_WON,
        channel: Channel::Email,
        locale: "en",
        subject: "Thank you for your order, {{ customer_name }}",
        body: "Dear {{ customer_name }},\n\nThank you for your order of {{ amount }}. We will be \
               in touch about delivery.\n\n{{ tenant_name }}",
    },
    BuiltIn {
        name: "deal won (ms)",
        enabled: true,
        event_type: DEAL_WON,
        channel: Channel::Email,
        locale: "ms",
        subject: "Terima kasih atas pesanan anda, {{ customer_name }}",
        body: "{{ customer_name }} yang dihormati,\n\nTerima kasih atas pesanan anda bernilai \
               {{ amount }}. Kami akan menghubungi anda tentang penghantaran.\n\n{{ tenant_name }}",
    },
    BuiltIn {
        name: "deal lost (en)",
        enabled: false,
        event_type: DEAL_LOST,
        channel: Channel::Email,
        locale: "en",
        subject: "How could we have done better, {{ customer_name }}?",
        body: "Dear {{ customer_name }},\n\nThank you for considering {{ tenant_name }}. We would \
               value a word on why it did not go ahead this time, so we can do better: simply \
               reply to this email.\n\n{{ tenant_name }}",
    },
    BuiltIn {
        name: "deal lost (ms)",
        enabled: false,
        event_type: DEAL_LOST,
        channel: Channel::Email,
        locale: "ms",
        subject: "Bagaimana kami boleh berbuat lebih baik, {{ customer_name }}?",
        body: "{{ customer_name }} yang dihormati,\n\nTerima kasih kerana mempertimbangkan \
               {{ tenant_name }}. Kami menghargai maklum balas anda tentang sebab urusan ini tidak \
               diteruskan kali ini: balas sahaja e-mel ini.\n\n{{ tenant_name }}",
    },
    BuiltIn {
        name: "approval asked (en)",
        enabled: true,
        event_type: APPROVAL_REQUESTED,
        channel: Channel::InApp,
        locale: "en",
        subject: "Approval asked: {{ opportunity_name }} at {{ amount }}",
        body: "{{ requested_by_name or 'Someone' }} asks to win {{ opportunity_name }} at {{ amount }}, \
               above the workspace's large-deal limit.{% if note %} \"{{ note }}\"{% endif %}",
    },
    BuiltIn {
        name: "approval asked (ms)",
        enabled: true,
        event_type: APPROVAL_REQUESTED,
        channel: Channel::InApp,
        locale: "ms",
        subject: "Kelulusan diminta: {{ opportunity_name }} pada {{ amount }}",
        body: "{{ requested_by_name or 'Seseorang' }} meminta untuk memenangi {{ opportunity_name }} \
               pada {{ amount }}, melebihi had urusan besar ruang kerja.{% if note %} \"{{ note }}\"{% endif %}",
    },
    BuiltIn {
        name: "approval decided (en)",
        enabled: true,
        event_type: APPROVAL_DECIDED,
        channel: Channel::InApp,
        locale: "en",
        subject: "{{ opportunity_name }}: {{ decision }} by {{ decided_by_name or 'a sales manager' }}",
        body: "{% if decision == 'approved' %}You may win it at up to {{ amount }}.{% else %}It is not \
               approved at {{ amount }}.{% endif %}{% if reason %} \"{{ reason }}\"{% endif %}",
    },
    BuiltIn {
        name: "approval decided (ms)",
        enabled: true,
        event_type: APPROVAL_DECIDED,
        channel: Channel::InApp,
        locale: "ms",
        subject: "{{ opportunity_name }}: {% if decision == 'approved' %}diluluskan{% else %}ditolak{% endif %} oleh {{ decided_by_name or 'pengurus jualan' }}",
        body: "{% if decision == 'approved' %}Anda boleh memenanginya sehingga {{ amount }}.{% else %}Ia \
               tidak diluluskan pada {{ amount }}.{% endif %}{% if reason %} \"{{ reason }}\"{% endif %}",
    },
];

impl BuiltIn {
    /// This built-in as a template of `tenant`.
    pub fn template(&self, tenant: TenantId, now: Millis) -> Template {
        Template {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            name: self.name.into(),
            channel: self.channel,
            event_type: self.event_type.into(),
            locale: self.locale.into(),
            subject: self.subject.into(),
            body: self.body.into(),
            enabled: self.enabled,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}
