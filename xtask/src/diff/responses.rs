//! What consumers read: an operation's statuses (success and error), each response's
//! headers and content, and the error envelope every error answer shares.

use std::collections::BTreeSet;

use leads_spec::{Document, Node, ONLY_WHEN_SENT, Operation, Response, schema_component};
use serde_json::Value;

use super::change::Group;
use super::content::{self, MediaTypeRules};
use super::rules;
use super::schemas;
use super::walk::{Diff, Direction, Pair, Scope, child};

/// Whether a `responses` key is an error: `4XX`, `503`, or `default` (which, next to documented
/// successes, stands for the errors).
fn is_error(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5') || status == "default"
}

/// The component schemas the error responses of `document` answer with: its error envelope.
pub fn envelopes(document: Document) -> BTreeSet<String> {
    document
        .operations()
        .iter()
        .flat_map(Operation::responses)
        .filter(|response| is_error(response.status))
        .filter_map(|response| document.resolve_node(response.node).ok())
        .flat_map(|response| schema_names(&response))
        .collect()
}

/// The component schemas a response's media types name directly (`schema: {$ref: …}`).
fn schema_names(response: &Node) -> Vec<String> {
    response
        .value
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(_, media)| media.pointer("/schema/$ref").and_then(Value::as_str))
        .filter_map(schema_component)
        .map(str::to_string)
        .collect()
}

/// Compares the responses of two versions of an operation.
pub fn compare<'a>(diff: &mut Diff<'a>, group: &Group, old: &Operation<'a>, new: &Operation<'a>) {
    let (old_responses, new_responses) = (old.responses(), new.responses());
    let missing_from = |responses: &[Response<'a>], status: &str| {
        !responses.iter().any(|response| response.status == status)
    };
    let removed: Vec<&Response> = old_responses
        .iter()
        .filter(|old| missing_from(&new_responses, old.status))
        .collect();
    let added: Vec<&Response> = new_responses
        .iter()
        .filter(|new| missing_from(&old_responses, new.status))
        .collect();
    statuses(diff, group, (old, new), &removed, &added);
    for old_response in &old_responses {
        if let Some(new_response) = new_responses
            .iter()
            .find(|new| new.status == old_response.status)
        {
            let pair = Pair::new(old_response.node.clone(), new_response.node.clone());
            response(diff, group, old_response.status, pair);
        }
    }
}

/// Statuses that appeared or disappeared. One success status swapped for another is a single
/// change: that is how consumers experience it.
fn statuses<'a>(
    diff: &mut Diff<'a>,
    group: &Group,
    (old_operation, new_operation): (&Operation<'a>, &Operation<'a>),
    removed: &[&Response<'a>],
    added: &[&Response<'a>],
) {
    let (removed_errors, removed_successes): (Vec<&&Response>, Vec<&&Response>) = removed
        .iter()
        .partition(|response| is_error(response.status));
    let (added_errors, added_successes): (Vec<&&Response>, Vec<&&Response>) =
        added.iter().partition(|response| is_error(response.status));
    if let ([old], [new]) = (removed_successes.as_slice(), added_successes.as_slice()) {
        let what = format!("success status {} changed to {}", old.status, new.status);
        let pointers = (
            Some(old.node.pointer.clone()),
            Some(new.node.pointer.clone()),
        );
        diff.record(
            group,
            &rules::SUCCESS_STATUS_CHANGED,
            pointers.0,
            pointers.1,
            what,
        );
    } else {
        for old in removed_successes {
            let what = format!("success status {} removed", old.status);
            diff.record(
                group,
                &rules::SUCCESS_STATUS_REMOVED,
                Some(old.node.pointer.clone()),
                None,
                what,
            );
        }
        for new in added_successes {
            let (rule, what) =
                match only_for_new_parameters(diff, old_operation, new_operation, new) {
                    Some(parameters) => (
                        &rules::SUCCESS_STATUS_ADDED_FOR_NEW_PARAMETER,
                        format!(
                            "success status {} added, only for requests that send {}",
                            new.status,
                            parameters.join(" or ")
                        ),
                    ),
                    None => (
                        &rules::SUCCESS_STATUS_ADDED,
                        format!("success status {} added", new.status),
                    ),
                };
            diff.record(group, rule, None, Some(new.node.pointer.clone()), what);
        }
    }
    for old in removed_errors {
        let what = format!("error status {} removed", old.status);
        diff.record(
            group,
            &rules::ERROR_STATUS_REMOVED,
            Some(old.node.pointer.clone()),
            None,
            what,
        );
    }
    for new in added_errors {
        let resolved = diff
            .new
            .resolve_node(new.node.clone())
            .unwrap_or_else(|_| new.node.clone());
        let uses_envelope = diff.envelopes.is_empty()
            || schema_names(&resolved)
                .iter()
                .any(|name| diff.envelopes.contains(name));
        let (rule, what) = if uses_envelope {
            (
                &rules::ERROR_STATUS_ADDED,
                format!("error status {} added", new.status),
            )
        } else {
            (
                &rules::ERROR_ENVELOPE_REPLACED,
                format!(
                    "error status {} added without the error envelope",
                    new.status
                ),
            )
        };
        diff.record(group, rule, None, Some(new.node.pointer.clone()), what);
    }
}

/// The request parameters that alone bring `response` (its `x-only-when-sent`), named as
/// `in name`, if every one is optional in the new operation and absent from the old one, so
/// that no consumer of the old version can send it; else `None`.
fn only_for_new_parameters<'a>(
    diff: &Diff<'a>,
    old: &Operation<'a>,
    new: &Operation<'a>,
    response: &Response<'a>,
) -> Option<Vec<String>> {
    let resolved = diff.new.resolve_node(response.node.clone()).ok()?;
    let listed = resolved.value.get(ONLY_WHEN_SENT)?.as_array()?;
    let key = |parameter: &Value| -> Option<(String, String)> {
        let place = parameter.get("in")?.as_str()?.to_string();
        let name = parameter.get("name")?.as_str()?;
        // Header names are case-insensitive; the others are not.
        let name = if place == "header" {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        Some((place, name))
    };
    // (in, name) and whether required, of each parameter of `operation` (a parameter whose
    // `$ref` leads nowhere is left out here; the comparison of parameters reports it).
    let keyed =
        |document: Document<'a>, operation: &Operation<'a>| -> Vec<((String, String), bool)> {
            operation
                .parameters()
                .into_iter()
                .filter_map(|listed| document.resolve_node(listed).ok())
                .filter_map(|node| {
                    let required = node.value.get("required") == Some(&Value::Bool(true));
                    Some((key(node.value)?, required))
                })
                .collect()
        };
    let old_parameters = keyed(diff.old, old);
    let new_parameters = keyed(diff.new, new);
    let mut named = Vec::new();
    for parameter in listed {
        let wanted = key(parameter)?;
        let optional_in_new = new_parameters
            .iter()
            .any(|(k, required)| *k == wanted && !required);
        let in_old = old_parameters.iter().any(|(k, _)| *k == wanted);
        if !optional_in_new || in_old {
            return None;
        }
        named.push(format!("{} {}", wanted.0, wanted.1));
    }
    (!named.is_empty()).then_some(named)
}

/// One status both versions answer.
fn response<'a>(diff: &mut Diff<'a>, group: &Group, status: &str, pair: Pair<'a>) {
    let Some(pair) = diff.resolve(group, pair) else {
        return;
    };
    headers(diff, group, &pair);
    let old_envelope: Vec<String> = schema_names(&pair.old)
        .into_iter()
        .filter(|name| diff.envelopes.contains(name))
        .collect();
    let replaced =
        is_error(status) && !old_envelope.is_empty() && schema_names(&pair.new) != old_envelope;
    if replaced {
        let what = format!(
            "the {status} response no longer answers with {}",
            old_envelope.join(", ")
        );
        diff.record_both(group, &rules::ERROR_ENVELOPE_REPLACED, &pair, what);
    } else {
        let scope = Scope {
            group: group.clone(),
            direction: Direction::Response,
        };
        let media_rules = MediaTypeRules {
            removed: &rules::RESPONSE_MEDIA_TYPE_REMOVED,
            added: &rules::RESPONSE_MEDIA_TYPE_ADDED,
        };
        content::compare(diff, &scope, &pair, &media_rules);
    }
    diff.rest(group, &pair, &["headers", "content"]);
}

/// A response's headers by lowercase name (HTTP header names are case-insensitive).
fn header_map<'a>(response: &Node<'a>) -> Vec<(String, Node<'a>)> {
    let headers = child(Some(response), "headers");
    let mut listed: Vec<(String, Node<'a>)> = headers
        .as_ref()
        .and_then(|headers| headers.value.as_object())
        .into_iter()
        .flatten()
        .filter_map(|(name, _)| Some((name.to_lowercase(), child(headers.as_ref(), name)?)))
        .collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    listed
}

fn headers<'a>(diff: &mut Diff<'a>, group: &Group, response: &Pair<'a>) {
    let (old_headers, new_headers) = (header_map(&response.old), header_map(&response.new));
    let find = |headers: &[(String, Node<'a>)], name: &str| {
        headers
            .iter()
            .find(|(other, _)| other == name)
            .map(|(_, node)| node.clone())
    };
    for (name, old) in &old_headers {
        match find(&new_headers, name) {
            Some(new) => header(diff, group, name, Pair::new(old.clone(), new)),
            None => {
                let what = format!("header {name} removed");
                diff.record(
                    group,
                    &rules::RESPONSE_HEADER_REMOVED,
                    Some(old.pointer.clone()),
                    None,
                    what,
                );
            }
        }
    }
    for (name, new) in &new_headers {
        if find(&old_headers, name).is_none() {
            let what = format!("header {name} added");
            diff.record(
                group,
                &rules::RESPONSE_HEADER_ADDED,
                None,
                Some(new.pointer.clone()),
                what,
            );
        }
    }
}

fn header<'a>(diff: &mut Diff<'a>, group: &Group, name: &str, pair: Pair<'a>) {
    let Some(pair) = diff.resolve(group, pair) else {
        return;
    };
    let required = |node: &Node| node.value.get("required") == Some(&Value::Bool(true));
    match (required(&pair.old), required(&pair.new)) {
        (true, false) => diff.record_both(
            group,
            &rules::RESPONSE_HEADER_BECAME_OPTIONAL,
            &pair,
            format!("header {name} became optional"),
        ),
        (false, true) => diff.record_both(
            group,
            &rules::RESPONSE_HEADER_BECAME_REQUIRED,
            &pair,
            format!("header {name} became required"),
        ),
        _ => {}
    }
    let scope = Scope {
        group: group.clone(),
        direction: Direction::Response,
    };
    schemas::compare_owned(diff, &scope, &pair);
    diff.rest(group, &pair, &["required", "schema"]);
}
