//! Wire ⇄ domain: the generated request types into domain values, and leads into the
//! generated response types.
//!
//! Every conversion names every field of the generated type it reads (destructuring) or
//! builds (a struct literal), so that a field added to the spec and regenerated fails to
//! compile here until it is handled, rather than at run time. Metadata, notes and
//! disqualification data are open objects kept as the client sent them (`x-raw-json` in the
//! spec): their wire types are JSON text, moved whole to the store and back without being
//! parsed, and a key added to their schemas needs no code.

use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::types;
use crate::domain::{
    self, JsonObject, Keyset, Lead, LeadChanges, LeadFilter, LeadStatus, OrganizationId,
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

/// What a list request asks for: which leads, after which position, how many.
pub struct ListRequest {
    pub filter: LeadFilter,
    pub after: Option<Keyset>,
    pub limit: u32,
}

pub fn list_request(query: types::LeadListQuery) -> Result<ListRequest, Error> {
    let types::LeadListQuery {
        status,
        source,
        assigned_to_id,
        cursor,
        limit,
    } = query;
    Ok(ListRequest {
        filter: LeadFilter {
            status: status.map(status_from_wire),
            utm_source: source.map(Into::into),
            assigned_to_id: assigned_to_id.map(Into::into),
        },
        after: cursor.map(|c| super::cursor::decode(&c)).transpose()?,
        limit: limit.get(),
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
