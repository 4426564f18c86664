//! The body of a delivery: the event, rendered once into the wire types generated from the
//! spec's `WebhookEvent`, when the change that causes it is written. [`Payloads`] is the
//! renderer the server gives its store ([`crate::domain::EventRenderer`]).
//!
//! The body is stored as the exact bytes sent, so every attempt of a delivery sends (and
//! signs) the same bytes, and `data` is the lead as it was right after its change, whatever
//! happened to it since.

use crate::api::{convert, types};
use crate::domain::{EventRenderer, EventType, Lead};

/// Renders events in the newest version's wire types.
pub struct Payloads;

impl EventRenderer for Payloads {
    fn render(&self, event: EventType, lead: &Lead) -> Result<String, String> {
        render(event, lead)
    }
}

/// The body of `event` about `lead` (as it is right after the change): its `created_at` is
/// the change's time, the lead's `updated_at`.
pub fn render(event: EventType, lead: &Lead) -> Result<String, String> {
    let created_at = lead.updated_at;
    let organization_id = lead.organization_id.0.to_string();
    let data = convert::lead(lead.clone())
        .map_err(|error| format!("rendering an event's lead: {error}"))?;
    let body = match event {
        EventType::LeadCreated => types::WebhookEvent::CreatedEvent(types::LeadCreatedEvent {
            created_at,
            data,
            event: types::LeadCreatedEventEvent::LeadCreated,
            organization_id,
        }),
        EventType::LeadUpdated => types::WebhookEvent::UpdatedEvent(types::LeadUpdatedEvent {
            created_at,
            data,
            event: types::LeadUpdatedEventEvent::LeadUpdated,
            organization_id,
        }),
        EventType::LeadStatusChanged => {
            types::WebhookEvent::StatusChangedEvent(types::LeadStatusChangedEvent {
                created_at,
                data,
                event: types::LeadStatusChangedEventEvent::LeadStatusChanged,
                organization_id,
            })
        }
    };
    serde_json::to_string(&body).map_err(|error| format!("rendering an event: {error}"))
}
