//! Component schemas: which operations reach each one and in which direction (following
//! `$ref`s through parameters, bodies, responses and headers, in both documents), and each
//! component compared once, in its own [`Group::Schema`], by the rules of every direction it
//! travels in. A difference judged both ways is reported once, with the more severe class:
//! a field removed from a schema used in both directions is breaking through its response side.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use leads_spec::{Document, Node, schema_component};
use serde_json::Value;

use super::change::{Change, Class, Group};
use super::requests::label;
use super::rules;
use super::schemas;
use super::walk::{Diff, Direction, Pair, Scope};

/// Which operations reach which component schema, and how.
#[derive(Default)]
pub struct Usage {
    /// Component name → `(operation label, direction)`, in the order first found.
    reached: BTreeMap<String, Vec<(String, Direction)>>,
}

impl Usage {
    /// The usage in both documents: a consumer of the old one, or of the new one, counts.
    pub fn of(diff: &Diff) -> Self {
        let mut usage = Self::default();
        usage.add(diff.old);
        usage.add(diff.new);
        usage
    }

    fn add(&mut self, document: Document) {
        for operation in document.operations() {
            let operation_label = label(&operation);
            let sent = operation
                .parameters()
                .into_iter()
                .chain(operation.request_body());
            let read = operation
                .responses()
                .into_iter()
                .map(|response| response.node);
            for (direction, roots) in [
                (Direction::Request, sent.collect::<Vec<Node>>()),
                (Direction::Response, read.collect()),
            ] {
                let mut found = BTreeSet::new();
                let mut followed = HashSet::new();
                for root in roots {
                    reached_schemas(document, root.value, &mut found, &mut followed);
                }
                for name in found {
                    let users = self.reached.entry(name).or_default();
                    let user = (operation_label.clone(), direction);
                    if !users.contains(&user) {
                        users.push(user);
                    }
                }
            }
        }
    }

    /// The directions `name` travels in; both if no operation reaches it (a conservative
    /// judgement of a schema whose use the document does not show).
    fn directions(&self, name: &str) -> BTreeSet<Direction> {
        let directions: BTreeSet<Direction> = self
            .reached
            .get(name)
            .into_iter()
            .flatten()
            .map(|(_, direction)| *direction)
            .collect();
        if directions.is_empty() {
            BTreeSet::from([Direction::Request, Direction::Response])
        } else {
            directions
        }
    }

    /// `lead_create (POST /v1/leads) request`, … for each use of `name`.
    fn users(&self, name: &str) -> Vec<String> {
        self.reached
            .get(name)
            .into_iter()
            .flatten()
            .map(|(operation, direction)| format!("{operation} {}", direction.name()))
            .collect()
    }
}

/// Adds to `found` every component schema `value` reaches through `$ref`s, transitively.
fn reached_schemas(
    document: Document,
    value: &Value,
    found: &mut BTreeSet<String>,
    followed: &mut HashSet<String>,
) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str)
                && followed.insert(reference.to_string())
                && let Ok(target) = document.lookup(reference)
            {
                if let Some(name) = schema_component(reference) {
                    found.insert(name.to_string());
                }
                reached_schemas(document, target, found, followed);
            }
            for child in map.values() {
                reached_schemas(document, child, found, followed);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| reached_schemas(document, item, found, followed)),
        _ => {}
    }
}

/// Compares the component schemas of both documents, each in its own group.
pub fn compare_schemas(diff: &mut Diff, usage: &Usage) {
    let old_schemas: BTreeMap<&str, Node> = diff.old.components("schemas").into_iter().collect();
    let new_schemas: BTreeMap<&str, Node> = diff.new.components("schemas").into_iter().collect();
    let names: BTreeSet<&str> = old_schemas
        .keys()
        .chain(new_schemas.keys())
        .copied()
        .collect();
    for name in names {
        let group = Group::Schema(name.to_string());
        match (old_schemas.get(name), new_schemas.get(name)) {
            (Some(old), Some(new)) => {
                let pair = Pair::new(old.clone(), new.clone());
                component(diff, usage, &group, name, &pair);
            }
            (Some(old), None) => {
                let what = format!("schema {name} removed");
                diff.record(
                    &group,
                    &rules::COMPONENT_REMOVED,
                    Some(old.pointer.clone()),
                    None,
                    what,
                );
            }
            (None, Some(new)) => {
                let what = format!("schema {name} added");
                diff.record(
                    &group,
                    &rules::COMPONENT_ADDED,
                    None,
                    Some(new.pointer.clone()),
                    what,
                );
            }
            (None, None) => {}
        }
    }
}

/// One component schema both documents define, judged in each direction it travels in.
fn component<'a>(diff: &mut Diff<'a>, usage: &Usage, group: &Group, name: &str, pair: &Pair<'a>) {
    let before = diff.changes.len();
    let mut merged: Vec<Change> = Vec::new();
    // Responses first: on a tie of severity, the response side's wording is kept.
    for direction in usage.directions(name).into_iter().rev() {
        let scope = Scope {
            group: group.clone(),
            direction,
        };
        schemas::compare(diff, &scope, pair.clone());
        for change in diff.changes.drain(before..).collect::<Vec<_>>() {
            let same_place = merged.iter_mut().find(|kept| {
                kept.old_pointer == change.old_pointer && kept.new_pointer == change.new_pointer
            });
            match same_place {
                Some(kept) if change.class > kept.class => *kept = change,
                Some(_) => {}
                None => merged.push(change),
            }
        }
    }
    let users = usage.users(name);
    let envelope = diff.envelopes.contains(name);
    for mut change in merged {
        change.reached_by = users.clone();
        if envelope && change.class != Class::Documentation {
            let rule = if change.kind == rules::PROPERTY_ADDED.response.kind {
                &rules::ERROR_ENVELOPE_PROPERTY_ADDED
            } else {
                &rules::ERROR_ENVELOPE_CHANGED
            };
            change.kind = rule.kind;
            change.class = rule.class;
            change.why = rule.why.to_string();
        }
        diff.changes.push(change);
    }
}
