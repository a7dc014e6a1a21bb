//! Writing a notification: the template for the event, channel and reader's language, rendered,
//! stored once per recipient.

use super::*;

/// Stores one notification per recipient, rendered from the tenant's template for the event in
/// the recipient's language: their own when they chose one (a person the context knows), else
/// the tenant's (a built-in one, if on by default, when the tenant has none for it). Nothing is
/// stored when the tenant disabled the template.
#[allow(clippy::too_many_arguments)]
pub(super) async fn notify(
    tx: &mut dyn FlowStore,
    tenant: TenantId,
    event: &Envelope,
    event_type: &str,
    vars: Vec<(&'static str, String)>,
    to: Vec<Recipient>,
    fixed: Option<&'static [BuiltIn]>,
    sending: &Sending,
) -> anyhow::Result<()> {
    if to.is_empty() {
        tracing::debug!(event_id = %event.id, event_type, "no recipient; nothing to send");
        return Ok(());
    }
    let (tenant_name, tenant_locale) = tx.tenant(tenant).await?;
    let mut variables: BTreeMap<&str, String> = vars.into_iter().collect();
    variables.insert("tenant_name", tenant_name);
    // The recipients by channel and language, each group rendered once.
    let mut groups: BTreeMap<(Channel, String), Vec<&Recipient>> = BTreeMap::new();
    for recipient in &to {
        let own = match recipient.user_id {
            Some(id) => tx.user(tenant, id).await?.and_then(|u| u.locale),
            None => None,
        };
        let locale = own.unwrap_or_else(|| tenant_locale.clone());
        groups
            .entry((recipient.channel, locale))
            .or_default()
            .push(recipient);
    }
    for ((channel, locale), recipients) in groups {
        let mut templates = match fixed {
            Some(_) => Vec::new(),
            None => tx.templates_for(tenant, event_type, channel).await?,
        };
        let built_in = templates.is_empty();
        if built_in {
            templates = fixed
                .unwrap_or(BUILT_IN)
                .iter()
                .filter(|b| b.event_type == event_type && b.channel == channel && b.enabled)
                .map(|b| b.template(tenant, event.time))
                .collect();
        }
        let Some(chosen): Option<&Template> = template::pick(&templates, &locale) else {
            if built_in {
                tracing::debug!(event_id = %event.id, event_type, channel = channel.as_str(), "no template for this channel; nothing sent");
            } else {
                tracing::info!(event_id = %event.id, event_type, channel = channel.as_str(), "the tenant disabled this notification");
            }
            continue;
        };
        let rendered = chosen.render(&variables).map_err(|e| {
            anyhow::anyhow!(
                "template {} ({}) does not render: {e}",
                chosen.name,
                chosen.id
            )
        })?;
        for recipient in recipients {
            let now = chrono::Utc::now().timestamp_millis();
            let mut n = Notification::new(
                tenant,
                recipient.clone(),
                (!built_in).then_some(chosen.id),
                rendered.subject.clone(),
                rendered.body.clone(),
                event.id,
                event_type,
                now,
            );
            if sending.hold_millis > 0 {
                n = n.held(now.saturating_add(sending.hold_millis));
            }
            n.about.clone_from(&sending.about);
            n.link.clone_from(&sending.link);
            if !tx.insert_notification(&n).await? {
                tracing::debug!(event_id = %event.id, "already notified");
            }
        }
    }
    Ok(())
}
