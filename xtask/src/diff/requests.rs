//! What consumers send: paths and operations (added, removed, renamed), parameters, request
//! bodies, and the security an operation requires. Each operation's responses are compared
//! by [`super::responses`].

use leads_spec::{Node, Operation};
use serde_json::Value;

use super::change::Group;
use super::content::{self, MediaTypeRules};
use super::rules;
use super::walk::{Diff, Direction, Pair, Scope, at, child};
use super::{responses, schemas};

/// The keys of an operation object this module (and [`responses`]) judges.
const OPERATION_KEYS: &[&str] = &[
    "operationId",
    "deprecated",
    "tags",
    "security",
    "parameters",
    "requestBody",
    "responses",
];

/// How reports name an operation: `lead_create (POST /v1/leads)`.
pub fn label(operation: &Operation) -> String {
    match operation.id() {
        Some(id) => format!("{id} ({})", operation.label()),
        None => operation.label(),
    }
}

fn node<'a>(operation: &Operation<'a>) -> Node<'a> {
    Node {
        pointer: operation.pointer.clone(),
        value: operation.value,
    }
}

/// Compares every operation of the old document with the one at the same path and method.
pub fn compare_paths(diff: &mut Diff) {
    let new_operations = diff.new.operations();
    let old_operations = diff.old.operations();
    let same_place = |a: &Operation, b: &Operation| a.path == b.path && a.method == b.method;
    for old in &old_operations {
        let group = Group::Operation(label(old));
        match new_operations.iter().find(|new| same_place(old, new)) {
            Some(new) => operation(diff, &group, old, new),
            None if new_operations.iter().any(|new| new.path == old.path) => {
                let what = format!("operation {} removed", old.label());
                diff.record(
                    &group,
                    &rules::OPERATION_REMOVED,
                    Some(old.pointer.clone()),
                    None,
                    what,
                );
            }
            None => {
                let what = format!(
                    "path {} removed (with its {} operation)",
                    old.path,
                    old.method.to_uppercase()
                );
                diff.record(
                    &group,
                    &rules::PATH_REMOVED,
                    Some(old.pointer.clone()),
                    None,
                    what,
                );
            }
        }
    }
    for new in &new_operations {
        if !old_operations.iter().any(|old| same_place(old, new)) {
            let group = Group::Operation(label(new));
            let what = format!("operation {} added", new.label());
            diff.record(
                &group,
                &rules::OPERATION_ADDED,
                None,
                Some(new.pointer.clone()),
                what,
            );
        }
    }
    path_items(diff);
}

/// What a path item says besides its operations and shared parameters (which the operations
/// are compared with): prose, and the safety net for the rest.
fn path_items(diff: &mut Diff) {
    let (Some(old_paths), Some(new_paths)) = (
        child(Some(&root(diff.old.root())), "paths"),
        child(Some(&root(diff.new.root())), "paths"),
    ) else {
        return;
    };
    let handled: Vec<&str> = leads_spec::METHODS
        .iter()
        .copied()
        .chain(["parameters"])
        .collect();
    for path in super::walk::keys(old_paths.value) {
        if let Some(item) = Pair::new(old_paths.clone(), new_paths.clone()).child(path) {
            diff.rest(&Group::Document, &item, &handled);
        }
    }
}

/// The whole document as a node.
pub fn root(value: &Value) -> Node<'_> {
    Node {
        pointer: String::new(),
        value,
    }
}

fn operation<'a>(diff: &mut Diff<'a>, group: &Group, old: &Operation<'a>, new: &Operation<'a>) {
    let pair = Pair::new(node(old), node(new));
    if old.id() != new.id() {
        let what = format!(
            "operationId changed from {} to {}",
            old.id().unwrap_or("none"),
            new.id().unwrap_or("none")
        );
        let (old_pointer, new_pointer) =
            (at(&pair.old, "operationId"), at(&pair.new, "operationId"));
        diff.record(
            group,
            &rules::OPERATION_ID_CHANGED,
            Some(old_pointer),
            Some(new_pointer),
            what,
        );
    }
    if !pair.same("deprecated") {
        let what = format!(
            "`deprecated` changed to {}",
            new.value.get("deprecated").unwrap_or(&Value::Bool(false))
        );
        let (old_pointer, new_pointer) = (at(&pair.old, "deprecated"), at(&pair.new, "deprecated"));
        diff.record(
            group,
            &rules::DEPRECATION_CHANGED,
            Some(old_pointer),
            Some(new_pointer),
            what,
        );
    }
    tags(diff, group, &pair);
    security(diff, group, old, new);
    parameters(diff, group, old, new);
    request_body(diff, group, old, new);
    responses::compare(diff, group, old, new);
    diff.rest(group, &pair, OPERATION_KEYS);
}

/// The `tags` of an operation or of the document: which, and in which order.
pub fn tags(diff: &mut Diff, group: &Group, owner: &Pair) {
    if owner.same("tags") {
        return;
    }
    let names = |node: &Node| -> Vec<Value> {
        let tags = node
            .value
            .get("tags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // Document-level tags are objects named by `name`; an operation's are the names.
        tags.into_iter()
            .map(|tag| tag.get("name").cloned().unwrap_or(tag))
            .collect()
    };
    let (old, new) = (names(&owner.old), names(&owner.new));
    let mut sorted = (old.clone(), new.clone());
    sorted.0.sort_by_key(Value::to_string);
    sorted.1.sort_by_key(Value::to_string);
    let (old_pointer, new_pointer) = (Some(at(&owner.old, "tags")), Some(at(&owner.new, "tags")));
    if sorted.0 != sorted.1 {
        let what = format!(
            "tags changed from {} to {}",
            Value::from(old),
            Value::from(new)
        );
        diff.record(group, &rules::TAGS_CHANGED, old_pointer, new_pointer, what);
    } else if old != new {
        let what = format!("tags reordered to {}", Value::from(new));
        diff.record(
            group,
            &rules::TAGS_REORDERED,
            old_pointer,
            new_pointer,
            what,
        );
    }
}

/// The security requirements in force for an operation, and where they are written.
fn security_of<'a>(
    diff_side: leads_spec::Document<'a>,
    operation: &Operation<'a>,
) -> (Vec<Value>, String) {
    let (value, pointer) = match operation.value.get("security") {
        Some(value) => (Some(value), format!("{}/security", operation.pointer)),
        None => (diff_side.root().get("security"), "/security".to_string()),
    };
    (
        value.and_then(Value::as_array).cloned().unwrap_or_default(),
        pointer,
    )
}

/// Whether a list of alternative requirements forces credentials: not if it is empty or one
/// alternative is the empty requirement `{}`.
fn needs_credentials(requirements: &[Value]) -> bool {
    !requirements.is_empty()
        && !requirements.iter().any(|requirement| {
            requirement
                .as_object()
                .is_some_and(serde_json::Map::is_empty)
        })
}

fn security(diff: &mut Diff, group: &Group, old: &Operation, new: &Operation) {
    let (old_requirements, old_pointer) = security_of(diff.old, old);
    let (new_requirements, new_pointer) = security_of(diff.new, new);
    if old_requirements == new_requirements {
        return;
    }
    let rule = match (
        needs_credentials(&old_requirements),
        needs_credentials(&new_requirements),
    ) {
        (false, false) => return,
        (false, true) => &rules::SECURITY_ADDED,
        (true, false) => &rules::SECURITY_REMOVED,
        (true, true)
            if old_requirements
                .iter()
                .all(|old| new_requirements.contains(old)) =>
        {
            &rules::SECURITY_ALTERNATIVE_ADDED
        }
        (true, true) => &rules::SECURITY_CHANGED,
    };
    let what = format!(
        "security changed from {} to {}",
        Value::from(old_requirements),
        Value::from(new_requirements)
    );
    diff.record(group, rule, Some(old_pointer), Some(new_pointer), what);
}

/// An operation's parameters, resolved, keyed by `(in, name)`; an operation's own override the
/// path item's. A parameter whose `$ref` leads nowhere is reported and left out.
fn effective_parameters<'a>(
    diff: &mut Diff<'a>,
    group: &Group,
    document: leads_spec::Document<'a>,
    operation: &Operation<'a>,
) -> Vec<((String, String), Node<'a>)> {
    let mut parameters: Vec<((String, String), Node<'a>)> = Vec::new();
    for listed in operation.parameters() {
        let resolved = match document.resolve_node(listed.clone()) {
            Ok(resolved) => resolved,
            Err(error) => {
                let pair = Pair::new(listed.clone(), listed);
                diff.unclassified(group, &pair, &format!("unresolvable parameter ({error})"));
                continue;
            }
        };
        let text = |key: &str| {
            resolved
                .value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let key = (text("in"), text("name"));
        parameters.retain(|(existing, _)| *existing != key);
        parameters.push((key, resolved));
    }
    parameters
}

fn parameters<'a>(diff: &mut Diff<'a>, group: &Group, old: &Operation<'a>, new: &Operation<'a>) {
    let (old_document, new_document) = (diff.old, diff.new);
    let old_parameters = effective_parameters(diff, group, old_document, old);
    let new_parameters = effective_parameters(diff, group, new_document, new);
    let required = |node: &Node| node.value.get("required") == Some(&Value::Bool(true));
    for ((location, name), old_node) in &old_parameters {
        let found = new_parameters
            .iter()
            .find(|(key, _)| key.0 == *location && key.1 == *name);
        let Some((_, new_node)) = found else {
            let what = format!("{location} parameter `{name}` removed");
            diff.record(
                group,
                &rules::PARAMETER_REMOVED,
                Some(old_node.pointer.clone()),
                None,
                what,
            );
            continue;
        };
        let pair = Pair::new(old_node.clone(), new_node.clone());
        let flag = match (required(old_node), required(new_node)) {
            (false, true) => Some((&rules::PARAMETER_BECAME_REQUIRED, "required")),
            (true, false) => Some((&rules::PARAMETER_BECAME_OPTIONAL, "optional")),
            _ => None,
        };
        if let Some((rule, now)) = flag {
            diff.record_both(
                group,
                rule,
                &pair,
                format!("{location} parameter `{name}` became {now}"),
            );
        }
        if !pair.same("deprecated") {
            diff.record_both(
                group,
                &rules::DEPRECATION_CHANGED,
                &pair,
                format!("{location} parameter `{name}`: `deprecated` changed"),
            );
        }
        let scope = Scope {
            group: group.clone(),
            direction: Direction::Request,
        };
        schemas::compare_owned(diff, &scope, &pair);
        diff.rest(
            group,
            &pair,
            &["name", "in", "required", "deprecated", "schema"],
        );
    }
    for ((location, name), new_node) in &new_parameters {
        if old_parameters
            .iter()
            .any(|(key, _)| key.0 == *location && key.1 == *name)
        {
            continue;
        }
        let (rule, adjective) = if required(new_node) {
            (&rules::PARAMETER_ADDED_REQUIRED, "required")
        } else {
            (&rules::PARAMETER_ADDED, "optional")
        };
        let what = format!("{adjective} {location} parameter `{name}` added");
        diff.record(group, rule, None, Some(new_node.pointer.clone()), what);
    }
}

fn request_body<'a>(diff: &mut Diff<'a>, group: &Group, old: &Operation<'a>, new: &Operation<'a>) {
    let required = |node: &Node| node.value.get("required") == Some(&Value::Bool(true));
    match (old.request_body(), new.request_body()) {
        (None, None) => {}
        (Some(old_body), None) => {
            let what = "request body removed".to_string();
            diff.record(
                group,
                &rules::REQUEST_BODY_REMOVED,
                Some(old_body.pointer),
                None,
                what,
            );
        }
        (None, Some(new_body)) => {
            let resolved = diff.new.resolve_node(new_body.clone()).unwrap_or(new_body);
            let (rule, what) = if required(&resolved) {
                (
                    &rules::REQUEST_BODY_ADDED_REQUIRED,
                    "required request body added",
                )
            } else {
                (&rules::REQUEST_BODY_ADDED, "optional request body added")
            };
            diff.record(group, rule, None, Some(resolved.pointer), what.to_string());
        }
        (Some(old_body), Some(new_body)) => {
            let Some(pair) = diff.resolve(group, Pair::new(old_body, new_body)) else {
                return;
            };
            match (required(&pair.old), required(&pair.new)) {
                (false, true) => diff.record_both(
                    group,
                    &rules::REQUEST_BODY_BECAME_REQUIRED,
                    &pair,
                    "request body became required".into(),
                ),
                (true, false) => diff.record_both(
                    group,
                    &rules::REQUEST_BODY_BECAME_OPTIONAL,
                    &pair,
                    "request body became optional".into(),
                ),
                _ => {}
            }
            let scope = Scope {
                group: group.clone(),
                direction: Direction::Request,
            };
            let media_rules = MediaTypeRules {
                removed: &rules::REQUEST_MEDIA_TYPE_REMOVED,
                added: &rules::REQUEST_MEDIA_TYPE_ADDED,
            };
            content::compare(diff, &scope, &pair, &media_rules);
            diff.rest(group, &pair, &["required", "content"]);
        }
    }
}
