//! What consumers read: an operation's statuses (success and error), each response's
//! headers and content, and the error envelope every error answer shares.

use std::collections::BTreeSet;

use leads_spec::{Document, Node, Operation, Response, schema_component};
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
    statuses(diff, group, &removed, &added);
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
fn statuses(diff: &mut Diff, group: &Group, removed: &[&Response], added: &[&Response]) {
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
            let what = format!("success status {} added", new.status);
            diff.record(
                group,
                &rules::SUCCESS_STATUS_ADDED,
                None,
                Some(new.node.pointer.clone()),
                what,
            );
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
