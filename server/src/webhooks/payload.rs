//! The body of a delivery: the event, rendered once into the wire types generated from the
//! spec's `WebhookEvent`, when the change that causes it is written. [`Payloads`] is the
//! renderer the server gives its store ([`crate::domain::EventRenderer`]).
//!
//! The body is stored as the exact bytes sent, so every attempt of a delivery sends (and
//! signs) the same bytes, and `data` is the lead as it was right after its change, whatever
//! happened to it since. A `lead.deleted` event is the exception: its `data` is the lead's id
//! alone, since the lead and its copies are being erased.

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
/// the change's time, the lead's `updated_at` (for `lead.deleted`, the store sets it to the
/// time of the deletion).
pub fn render(event: EventType, lead: &Lead) -> Result<String, String> {
    let created_at = lead.updated_at;
    let organization_id = lead.organization_id.0.to_string();
    if event == EventType::LeadDeleted {
        // Nothing personal: the lead's id, and nothing else of it.
        let body = types::WebhookEvent::DeletedEvent(types::LeadDeletedEvent {
            created_at,
            data: types::DeletedLead { id: lead.id },
            event: types::LeadDeletedEventEvent::LeadDeleted,
            organization_id,
        });
        return serde_json::to_string(&body)
            .map_err(|error| format!("rendering an event: {error}"));
    }
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
        EventType::LeadDeleted => {
            return Err("a lead.deleted event is rendered without the lead".to_string());
        }
    };
    serde_json::to_string(&body).map_err(|error| format!("rendering an event: {error}"))
}
