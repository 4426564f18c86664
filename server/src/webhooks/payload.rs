//! The body of a delivery: the event, rendered once into the wire types generated from the
//! spec's `WebhookEvent`, when the change that causes it is written.
//!
//! The body is stored as the exact bytes sent, so every attempt of a delivery sends (and
//! signs) the same bytes, and `data` is the lead as it was right after its change, whatever
//! happened to it since.

use crate::api::{convert, types};
use crate::domain::{EventType, Lead};
use crate::store::StoreError;

/// The body of `event` about `lead` (as it is right after the change): its `created_at` is
/// the change's time, the lead's `updated_at`.
pub fn render(event: EventType, lead: &Lead) -> Result<String, StoreError> {
    let created_at = lead.updated_at;
    let organization_id = lead.organization_id.0.to_string();
    let data = convert::lead(lead.clone())
        .map_err(|error| StoreError::Internal(format!("rendering an event's lead: {error}")))?;
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
    serde_json::to_string(&body)
        .map_err(|error| StoreError::Internal(format!("rendering an event: {error}")))
}
