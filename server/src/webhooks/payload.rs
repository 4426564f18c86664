//! The body of a delivery: the event, rendered once into the wire types generated from the
//! spec's `WebhookEvent`, when the change that causes it is written. [`Payloads`] is the
//! renderer the server gives its store ([`crate::domain::EventRenderer`]). A test event
//! ([`render_test`]) is rendered the same way, about a sample lead, and marked `"test": true`.
//!
//! The body is stored as the exact bytes sent, so every attempt of a delivery sends (and
//! signs) the same bytes, and `data` is the lead as it was right after its change, whatever
//! happened to it since. A `lead.deleted` event is the exception: its `data` is the lead's id
//! alone, since the lead and its copies are being erased.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::api::{convert, types};
use crate::domain::{EventRenderer, EventType, Lead, OrganizationId};

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
    render_marked(event, lead, None)
}

/// The email of a test event's sample lead, as the spec documents it.
pub const TEST_EMAIL: &str = "test@example.com";

/// The body of a test event of type `event` for `organization`, made at `now`: the event as a
/// real one is, about a sample lead (the nil id, [`TEST_EMAIL`], created and updated `now`),
/// with `"test": true`, so that a receiver can tell it from a lead of its organization.
pub fn render_test(
    event: EventType,
    organization: OrganizationId,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let sample = Lead {
        id: Uuid::nil(),
        ..Lead::new(organization, TEST_EMAIL.to_owned(), now)
    };
    render_marked(event, &sample, Some(true))
}

fn render_marked(event: EventType, lead: &Lead, test: Option<bool>) -> Result<String, String> {
    let created_at = lead.updated_at;
    let organization_id = lead.organization_id.0.to_string();
    if event == EventType::LeadDeleted {
        // Nothing personal: the lead's id, and nothing else of it.
        let body = types::WebhookEvent::DeletedEvent(types::LeadDeletedEvent {
            created_at,
            data: types::DeletedLead { id: lead.id },
            event: types::LeadDeletedEventEvent::LeadDeleted,
            organization_id,
            test,
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
            test,
        }),
        EventType::LeadUpdated => types::WebhookEvent::UpdatedEvent(types::LeadUpdatedEvent {
            created_at,
            data,
            event: types::LeadUpdatedEventEvent::LeadUpdated,
            organization_id,
            test,
        }),
        EventType::LeadStatusChanged => {
            types::WebhookEvent::StatusChangedEvent(types::LeadStatusChangedEvent {
                created_at,
                data,
                event: types::LeadStatusChangedEventEvent::LeadStatusChanged,
                organization_id,
                test,
            })
        }
        EventType::LeadDeleted => {
            return Err("a lead.deleted event is rendered without the lead".to_string());
        }
    };
    serde_json::to_string(&body).map_err(|error| format!("rendering an event: {error}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::DeflateEncoder;

    use super::*;
    use crate::store::sqlite::event_body::{LEVEL, StoredBody};
    use crate::store::suite::largest_lead;

    /// What the outbox stores of a lead at its largest (notes and metadata at their limits),
    /// rendered as it is sent: the figures the choice of deflate's level rests on (printed
    /// with `--nocapture`; times are of this build, a debug one unless `--release`), and a
    /// floor under the ratio of the level chosen.
    #[test]
    fn a_lead_at_its_largest_deflates() {
        let body = render(EventType::LeadUpdated, &largest_lead()).expect("rendered");
        for level in [1, 6, 9] {
            let started = std::time::Instant::now();
            let mut encoder = DeflateEncoder::new(Vec::new(), Compression::new(level));
            encoder.write_all(body.as_bytes()).expect("deflate");
            let deflated = encoder.finish().expect("deflate").len();
            eprintln!(
                "level {level}{}: {} B to {deflated} B ({:.2}×) in {:?}",
                if level == LEVEL { " (chosen)" } else { "" },
                body.len(),
                body.len() as f64 / deflated as f64,
                started.elapsed()
            );
        }
        let stored = StoredBody::new(body.clone());
        let deflated = stored.deflated.as_ref().expect("deflated").len();
        assert!(body.len() > 75_000, "{}", body.len());
        assert!(deflated * 3 < body.len(), "{deflated} of {}", body.len());
        assert_eq!(
            StoredBody::into_text(stored.text, stored.deflated).expect("inflated"),
            body
        );
    }
}
