//! The comparison on the project's own spec: against itself, and mutated in memory the ways
//! that matter most to our consumers.

use serde_json::Value;

use super::{Class, compare};

fn spec() -> Value {
    leads_spec::load_workspace_spec(env!("CARGO_MANIFEST_DIR").as_ref()).unwrap()
}

/// The spec, changed by `mutate`, compared with the spec: each change's kind and class.
fn changes_after(mutate: impl FnOnce(&mut Value)) -> Vec<(&'static str, Class)> {
    let old = spec();
    let mut new = old.clone();
    mutate(&mut new);
    compare(&old, &new)
        .into_iter()
        .map(|change| (change.kind, change.class))
        .collect()
}

#[test]
fn the_spec_against_itself_has_no_change() {
    let spec = spec();
    assert_eq!(compare(&spec, &spec), []);
}

/// The mutations of the real spec that matter most to consumers, shared with the semver
/// gate's tests (`crate::gate`).
pub mod mutations {
    use serde_json::{Value, json};

    fn schema<'a>(spec: &'a mut Value, name: &str) -> &'a mut Value {
        &mut spec["components"]["schemas"][name]
    }

    /// Removes `company` from the `Lead` answered to every lead operation.
    pub fn remove_lead_company(spec: &mut Value) {
        let lead = schema(spec, "Lead");
        lead["properties"]
            .as_object_mut()
            .unwrap()
            .remove("company");
        lead["required"]
            .as_array_mut()
            .unwrap()
            .retain(|name| name != "company");
    }

    /// Makes `full_name` required on create.
    pub fn require_full_name(spec: &mut Value) {
        schema(spec, "LeadCreate")["required"]
            .as_array_mut()
            .unwrap()
            .push(json!("full_name"));
    }

    /// Adds the status `archived`.
    /// Takes `x-extensible` off `LeadStatus`.
    pub fn close_lead_status(spec: &mut Value) {
        if let Some(schema) = schema(spec, "LeadStatus").as_object_mut() {
            schema.remove(leads_spec::EXTENSIBLE);
        }
    }

    pub fn add_archived_status(spec: &mut Value) {
        schema(spec, "LeadStatus")["enum"]
            .as_array_mut()
            .unwrap()
            .push(json!("archived"));
    }

    /// Shortens `LeadCreate.company`'s `maxLength`.
    pub fn shorten_company(spec: &mut Value) {
        schema(spec, "LeadCreate")["properties"]["company"]["maxLength"] = json!(100);
    }

    /// Adds an optional `score` to create.
    pub fn add_score(spec: &mut Value) {
        schema(spec, "LeadCreate")["properties"]["score"] = json!({"type": "integer"});
    }

    /// Rewords `Lead`'s description.
    pub fn reword_lead(spec: &mut Value) {
        schema(spec, "Lead")["description"] = json!("Someone who may buy.");
    }
}

#[test]
fn removing_a_response_field_breaks() {
    let changes = changes_after(mutations::remove_lead_company);
    assert_eq!(changes, [("response-property-removed", Class::Breaking)]);
}

#[test]
fn requiring_a_request_field_breaks() {
    let changes = changes_after(mutations::require_full_name);
    assert_eq!(
        changes,
        [("request-property-became-required", Class::Breaking)]
    );
}

#[test]
fn a_new_status_is_compatible_since_lead_status_is_extensible() {
    let changes = changes_after(mutations::add_archived_status);
    assert_eq!(
        changes,
        [("response-extensible-enum-value-added", Class::Compatible)]
    );
}

#[test]
fn a_new_status_breaks_where_lead_status_is_not_extensible() {
    let mut old = spec();
    mutations::close_lead_status(&mut old);
    let mut new = old.clone();
    mutations::add_archived_status(&mut new);
    let changes: Vec<_> = compare(&old, &new)
        .into_iter()
        .map(|change| (change.kind, change.class))
        .collect();
    assert_eq!(changes, [("response-enum-value-added", Class::Breaking)]);
}

#[test]
fn a_shorter_request_max_length_breaks() {
    let changes = changes_after(mutations::shorten_company);
    assert_eq!(changes, [("request-constraint-narrowed", Class::Breaking)]);
}

#[test]
fn a_new_optional_request_field_is_compatible() {
    let changes = changes_after(mutations::add_score);
    assert_eq!(changes, [("request-property-added", Class::Compatible)]);
}
