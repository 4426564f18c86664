//! Wire ⇄ domain: the generated request types into domain values, and leads into the
//! generated response types.
//!
//! Every conversion names every field of the generated type it reads (destructuring) or
//! builds (a struct literal), so that a field added to the spec and regenerated fails to
//! compile here until it is handled, rather than at run time. Metadata, notes and
//! disqualification data are open objects kept as the client sent them (`x-raw-json` in the
//! spec): their wire types are JSON text, moved whole to the store and back without being
//! parsed, and a key added to their schemas needs no code.

use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::types;
use crate::domain::{
    self, AttemptRecord, Delivery, DeliveryStatus, EventType, JsonObject, Keyset, Lead,
    LeadChanges, LeadFilter, LeadStatus, OrganizationId, SigningSecret, Subscription,
};
use crate::error::Error;

/// A new lead from a create body. `raw` is the body as sent: the limits on metadata's size
/// and the derived `source` are read from it.
pub fn new_lead(
    body: types::LeadCreate,
    raw: &Value,
    organization: OrganizationId,
) -> Result<Lead, Error> {
    let types::LeadCreate {
        company,
        email,
        full_name,
        metadata,
        phone,
        timezone,
    } = body;
    check_timezone(timezone.as_deref().map(String::as_str))?;
    let parsed = raw.get("metadata").and_then(Value::as_object);
    if let Some(parsed) = raw.get("metadata").filter(|m| !m.is_null()) {
        domain::limits::check_metadata(parsed)?;
    }
    Ok(Lead {
        full_name: full_name.map(Into::into),
        phone: phone.map(Into::into),
        company: company.map(Into::into),
        timezone: timezone.map(Into::into),
        source: domain::derive_source(parsed),
        metadata: metadata
            .map(|types::LeadMetadata(m)| request_object("metadata", m))
            .transpose()?,
        ..Lead::new(organization, email.into(), domain::now())
    })
}

/// The changes of an update body; `raw` is the body as sent, for the limits on notes.
pub fn changes(body: types::LeadUpdate, raw: &Value) -> Result<LeadChanges, Error> {
    let types::LeadUpdate {
        assigned_to_id,
        company,
        email,
        full_name,
        notes,
        phone,
        status,
        timezone,
    } = body;
    check_timezone(timezone.as_deref().map(String::as_str))?;
    if let Some(notes) = raw.get("notes").and_then(Value::as_array) {
        domain::limits::check_notes(notes)?;
    }
    Ok(LeadChanges {
        email: email.map(Into::into),
        full_name: full_name.map(Into::into),
        phone: phone.map(Into::into),
        company: company.map(Into::into),
        timezone: timezone.map(Into::into),
        status: status.map(status_from_wire),
        assigned_to_id: assigned_to_id.map(Into::into),
        notes: notes
            .map(|notes| {
                notes
                    .into_iter()
                    .map(|types::LeadNote(note)| request_object("notes", note))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?,
    })
}

/// A raw object of a request body. The body was checked against the spec's schema, which
/// says it is an object; this keeps that true whatever the schema says.
fn request_object(field: &str, raw: Box<RawValue>) -> Result<JsonObject, Error> {
    JsonObject::from_raw(raw).map_err(|_| Error::invalid_field(field, "must be an object"))
}

/// A time zone must be one of the IANA database's, which no JSON Schema can say.
fn check_timezone(timezone: Option<&str>) -> Result<(), Error> {
    timezone.map_or(Ok(()), |zone| domain::check_timezone("timezone", zone))
}

/// A request of a release, validated against that release's schemas, as the working spec's
/// type: the releases a working spec is compatible with only lack optional fields it added
/// (the semver gate holds every compatible step to that), so the wire form of the one is a
/// value of the other.
pub fn widen<Old: serde::Serialize, New: serde::de::DeserializeOwned>(
    old: Old,
) -> Result<New, Error> {
    serde_json::to_value(old)
        .and_then(serde_json::from_value)
        .map_err(|error| {
            Error::Internal(format!(
                "a release's request as the working spec's: {error}"
            ))
        })
}

/// What a list request asks for: which leads, in which order from which position, how many.
pub struct ListRequest {
    pub filter: LeadFilter,
    pub from: ListFrom,
    pub limit: u32,
}

/// The order of a list of leads, and where in it a page starts.
pub enum ListFrom {
    /// Newest first, after this position (from the newest without one).
    Created(Option<Keyset>),
    /// Oldest change first, after this change (0: from the first).
    Changed(i64),
}

pub fn list_request(query: types::LeadListQuery) -> Result<ListRequest, Error> {
    let types::LeadListQuery {
        status,
        source,
        assigned_to_id,
        email,
        order,
        cursor,
        limit,
    } = query;
    let from = match order {
        types::LeadListQueryOrder::Created => {
            ListFrom::Created(cursor.map(|c| super::cursor::decode(&c)).transpose()?)
        }
        types::LeadListQueryOrder::Changed => ListFrom::Changed(
            cursor
                .map(|c| super::cursor::decode_change(&c))
                .transpose()?
                .unwrap_or(0),
        ),
    };
    Ok(ListRequest {
        filter: LeadFilter {
            status: status.map(status_from_wire),
            utm_source: source.map(Into::into),
            assigned_to_id: assigned_to_id.map(Into::into),
            email: email.map(Into::into),
        },
        from,
        limit: limit.get(),
    })
}

pub fn event_type_from_wire(event: types::WebhookEventType) -> EventType {
    match event {
        types::WebhookEventType::LeadCreated => EventType::LeadCreated,
        types::WebhookEventType::LeadUpdated => EventType::LeadUpdated,
        types::WebhookEventType::LeadStatusChanged => EventType::LeadStatusChanged,
        types::WebhookEventType::LeadDeleted => EventType::LeadDeleted,
    }
}

fn event_type_to_wire(event: EventType) -> types::WebhookEventType {
    match event {
        EventType::LeadCreated => types::WebhookEventType::LeadCreated,
        EventType::LeadUpdated => types::WebhookEventType::LeadUpdated,
        EventType::LeadStatusChanged => types::WebhookEventType::LeadStatusChanged,
        EventType::LeadDeleted => types::WebhookEventType::LeadDeleted,
    }
}

pub fn subscription(subscription: Subscription) -> types::WebhookSubscription {
    let Subscription {
        id,
        organization: _,
        event_type,
        target_url,
        created_at,
        disabled_at,
    } = subscription;
    types::WebhookSubscription {
        created_at,
        disabled_at,
        event_type: event_type_to_wire(event_type),
        id,
        target_url,
    }
}

/// A subscription just made, with its secret: the one answer that ever shows it.
pub fn subscription_created(
    subscription: Subscription,
    secret: &SigningSecret,
) -> Result<types::WebhookSubscriptionCreated, Error> {
    let types::WebhookSubscription {
        created_at,
        disabled_at,
        event_type,
        id,
        target_url,
    } = self::subscription(subscription);
    Ok(types::WebhookSubscriptionCreated {
        created_at,
        disabled_at,
        event_type,
        id,
        secret: wire_secret(secret)?,
        target_url,
    })
}

/// A rotation's answer: the subscription, its new secret (shown this once) and when the
/// secret it replaced stops signing.
pub fn secret_rotated(
    subscription: Subscription,
    secret: &SigningSecret,
    previous_secret_expires_at: DateTime<Utc>,
) -> Result<types::WebhookSecretRotated, Error> {
    Ok(types::WebhookSecretRotated {
        previous_secret_expires_at,
        secret: wire_secret(secret)?,
        subscription: self::subscription(subscription),
    })
}

/// A secret as the spec's pattern types it, which a generated secret always matches.
fn wire_secret<T: for<'a> TryFrom<&'a str>>(secret: &SigningSecret) -> Result<T, Error> {
    secret
        .expose()
        .try_into()
        .map_err(|_| Error::Internal("a new secret breaks the spec's pattern".to_string()))
}

pub fn delivery(delivery: Delivery) -> Result<types::WebhookDelivery, Error> {
    let Delivery {
        id,
        subscription_id,
        event_type,
        status,
        status_code,
        response_time_ms,
        error_message,
        attempt_count,
        payload_size_bytes,
        created_at,
        next_attempt_at,
    } = delivery;
    let out_of_range =
        |field: &str| Error::Internal(format!("delivery {id}: {field} is out of range"));
    Ok(types::WebhookDelivery {
        attempt_count: attempt_count.into(),
        created_at,
        error_message,
        event_type: event_type_to_wire(event_type),
        id,
        next_attempt_at,
        payload_size_bytes: i64::try_from(payload_size_bytes)
            .map_err(|_| out_of_range("payload_size_bytes"))?,
        response_time_ms: response_time_ms
            .map(i64::try_from)
            .transpose()
            .map_err(|_| out_of_range("response_time_ms"))?,
        status: match status {
            DeliveryStatus::Pending => types::WebhookDeliveryStatus::Pending,
            DeliveryStatus::Success => types::WebhookDeliveryStatus::Success,
            DeliveryStatus::Failed => types::WebhookDeliveryStatus::Failed,
        },
        status_code: status_code.map(i32::from),
        subscription_id,
    })
}

/// One attempt of a delivery's history, on the wire.
pub fn attempt(attempt: AttemptRecord) -> Result<types::WebhookDeliveryAttempt, Error> {
    let AttemptRecord {
        id,
        number,
        at,
        status_code,
        response_time_ms,
        error,
        succeeded,
    } = attempt;
    Ok(types::WebhookDeliveryAttempt {
        attempted_at: at,
        error_message: error,
        id,
        number: std::num::NonZeroU64::new(u64::from(number))
            .ok_or_else(|| Error::Internal(format!("attempt {id} is numbered 0")))?,
        response_time_ms: i64::try_from(response_time_ms).map_err(|_| {
            Error::Internal(format!("attempt {id}: response_time_ms is out of range"))
        })?,
        status_code: status_code.map(i32::from),
        succeeded,
    })
}

fn status_from_wire(status: types::LeadStatus) -> LeadStatus {
    match status {
        types::LeadStatus::New => LeadStatus::New,
        types::LeadStatus::Contacted => LeadStatus::Contacted,
        types::LeadStatus::Qualified => LeadStatus::Qualified,
        types::LeadStatus::Disqualified => LeadStatus::Disqualified,
        types::LeadStatus::Closed => LeadStatus::Closed,
        types::LeadStatus::Lost => LeadStatus::Lost,
    }
}

fn status_to_wire(status: LeadStatus) -> types::LeadStatus {
    match status {
        LeadStatus::New => types::LeadStatus::New,
        LeadStatus::Contacted => types::LeadStatus::Contacted,
        LeadStatus::Qualified => types::LeadStatus::Qualified,
        LeadStatus::Disqualified => types::LeadStatus::Disqualified,
        LeadStatus::Closed => types::LeadStatus::Closed,
        LeadStatus::Lost => types::LeadStatus::Lost,
    }
}

/// A stored lead as the wire shows it. Fails only if stored data no longer fits the spec.
pub fn lead(lead: Lead) -> Result<types::Lead, Error> {
    let stored = StoredLead(lead.id);
    let source = lead.source;
    Ok(types::Lead {
        id: lead.id,
        email: lead.email,
        full_name: lead.full_name,
        phone: lead.phone.map(|p| stored.fit("phone", p)).transpose()?,
        company: lead.company,
        timezone: lead.timezone,
        status: status_to_wire(lead.status),
        assigned_to_id: lead
            .assigned_to_id
            .map(|a| stored.fit("assigned_to_id", a))
            .transpose()?,
        source: types::LeadSource {
            referrer: source.referrer,
            utm_campaign: source.utm_campaign,
            utm_content: source.utm_content,
            utm_medium: source.utm_medium,
            utm_source: source.utm_source,
            utm_term: source.utm_term,
        },
        metadata: lead.metadata.map(|m| types::LeadMetadata(m.into_raw())),
        notes: Some(
            lead.notes
                .into_iter()
                .map(|note| types::LeadNote(note.into_raw()))
                .collect(),
        ),
        disqualification_data: lead
            .disqualification_data
            .map(|d| types::DisqualificationData(d.into_raw())),
        payment_count: lead.payment_count,
        payment_status: lead.payment_status,
        last_payment_at: lead.last_payment_at,
        total_paid_cents: lead.total_paid_cents,
        created_at: lead.created_at,
        updated_at: lead.updated_at,
    })
}

/// A stored lead's values checked into wire types on the way out; a value that no longer fits
/// (stored before a rule was tightened, say) is an internal error naming the lead and field.
struct StoredLead(Uuid);

impl StoredLead {
    /// A string into a constrained newtype (a pattern, a length).
    fn fit<T>(&self, field: &str, value: String) -> Result<T, Error>
    where
        T: TryFrom<String>,
        T::Error: std::fmt::Display,
    {
        T::try_from(value).map_err(|error| self.misfit(field, error))
    }

    fn misfit(&self, field: &str, error: impl std::fmt::Display) -> Error {
        Error::Internal(format!(
            "stored lead {} has a {field} that does not fit the spec: {error}",
            self.0
        ))
    }
}
