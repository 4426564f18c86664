//! Wire ⇄ domain: the generated request types into domain values, and leads into the
//! generated response types.

use serde_json::{Value, json};
use uuid::Uuid;

use super::types;
use crate::domain::{self, JsonObject, Lead, LeadChanges, LeadFilter, LeadStatus, OrganizationId};
use crate::error::Error;

/// A new lead from a create body. `raw` is the body as sent, so that metadata is stored
/// exactly as given (unknown keys, number formatting) rather than as re-serialized.
pub fn new_lead(
    body: types::LeadCreate,
    raw: &Value,
    organization: OrganizationId,
) -> Result<Lead, Error> {
    if let Some(timezone) = &body.timezone {
        domain::check_timezone("timezone", timezone)?;
    }
    let metadata = raw.get("metadata").and_then(Value::as_object).cloned();
    let now = domain::now();
    Ok(Lead {
        id: Uuid::new_v4(),
        organization_id: organization,
        email: body.email.to_string(),
        full_name: body.full_name.map(|v| v.to_string()),
        phone: body.phone.map(|v| v.to_string()),
        company: body.company.map(|v| v.to_string()),
        timezone: body.timezone.map(|v| v.to_string()),
        status: LeadStatus::New,
        assigned_to_id: None,
        source: domain::derive_source(metadata.as_ref()),
        metadata,
        notes: Vec::new(),
        disqualification_data: None,
        payment_count: 0,
        payment_status: None,
        last_payment_at: None,
        total_paid_cents: 0,
        created_at: now,
        updated_at: now,
    })
}

/// The changes of an update body; `raw` keeps the notes exactly as sent.
pub fn changes(body: types::LeadUpdate, raw: &Value) -> Result<LeadChanges, Error> {
    if let Some(timezone) = &body.timezone {
        domain::check_timezone("timezone", timezone)?;
    }
    let notes = raw.get("notes").and_then(Value::as_array).map(|notes| {
        notes
            .iter()
            .filter_map(|note| note.as_object().cloned())
            .collect::<Vec<JsonObject>>()
    });
    Ok(LeadChanges {
        email: body.email.map(|v| v.to_string()),
        full_name: body.full_name.map(|v| v.to_string()),
        phone: body.phone.map(|v| v.to_string()),
        company: body.company.map(|v| v.to_string()),
        timezone: body.timezone.map(|v| v.to_string()),
        status: body.status.map(status),
        assigned_to_id: body.assigned_to_id.map(|v| v.to_string()),
        notes,
    })
}

pub fn filter(query: &types::LeadListQuery) -> LeadFilter {
    LeadFilter {
        status: query.status.map(status),
        utm_source: query.source.as_ref().map(|v| v.to_string()),
        assigned_to_id: query.assigned_to_id.as_ref().map(|v| v.to_string()),
    }
}

fn status(status: types::LeadStatus) -> LeadStatus {
    match status {
        types::LeadStatus::New => LeadStatus::New,
        types::LeadStatus::Contacted => LeadStatus::Contacted,
        types::LeadStatus::Qualified => LeadStatus::Qualified,
        types::LeadStatus::Disqualified => LeadStatus::Disqualified,
        types::LeadStatus::Closed => LeadStatus::Closed,
        types::LeadStatus::Lost => LeadStatus::Lost,
    }
}

/// A stored lead as the wire shows it. Fails only if stored data no longer fits the spec.
pub fn lead(lead: Lead) -> Result<types::Lead, Error> {
    let wire = json!({
        "assigned_to_id": lead.assigned_to_id,
        "company": lead.company,
        "created_at": lead.created_at,
        "disqualification_data": lead.disqualification_data,
        "email": lead.email,
        "full_name": lead.full_name,
        "id": lead.id,
        "last_payment_at": lead.last_payment_at,
        "metadata": lead.metadata,
        "notes": lead.notes,
        "payment_count": lead.payment_count,
        "payment_status": lead.payment_status,
        "phone": lead.phone,
        "source": {
            "referrer": lead.source.referrer,
            "utm_campaign": lead.source.utm_campaign,
            "utm_content": lead.source.utm_content,
            "utm_medium": lead.source.utm_medium,
            "utm_source": lead.source.utm_source,
            "utm_term": lead.source.utm_term,
        },
        "status": lead.status.as_str(),
        "timezone": lead.timezone,
        "total_paid_cents": lead.total_paid_cents,
        "updated_at": lead.updated_at,
    });
    serde_json::from_value(wire).map_err(|error| {
        Error::Internal(format!(
            "stored lead {} does not fit the spec: {error}",
            lead.id
        ))
    })
}
