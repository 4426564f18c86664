//! The document outside its operations and schemas: `info` (whose `version` is the release
//! gate's business, not a change), tags, security schemes, examples, and components that
//! appeared or disappeared. Components other than schemas are compared where operations use
//! them (a shared response once, listing every operation it reaches); one no operation uses
//! cannot affect a consumer, so only its appearing or disappearing is reported.

use leads_spec::Node;
use serde_json::Value;

use super::change::Group;
use super::requests::{root, tags};
use super::rules;
use super::walk::{Diff, Pair, at, child, documentation_rule, union_of_keys};

/// The top-level keys judged here or elsewhere; `security` through each operation.
const DOCUMENT_KEYS: &[&str] = &["info", "tags", "paths", "components", "security"];
/// Component kinds judged where operations use them.
const USED_COMPONENTS: &[&str] = &["parameters", "responses", "headers", "requestBodies"];

pub fn compare(diff: &mut Diff) {
    let document = Pair::new(root(diff.old.root()), root(diff.new.root()));
    let group = Group::Document;
    info(diff, &document);
    tags(diff, &group, &document);
    for tag in named_pairs(&document, "tags") {
        diff.rest(&group, &tag, &["name"]);
    }
    components(diff, &document);
    diff.rest(&group, &document, DOCUMENT_KEYS);
}

fn info(diff: &mut Diff, document: &Pair) {
    let Some(info) = document.child("info") else {
        if !document.same("info") {
            diff.unclassified(&Group::Document, document, "`info` added or removed");
        }
        return;
    };
    for key in ["contact", "license", "termsOfService"] {
        if !info.same(key) {
            diff.record_both(
                &Group::Document,
                &rules::INFO_CHANGED,
                &info,
                format!("info `{key}` changed"),
            );
        }
    }
    diff.rest(
        &Group::Document,
        &info,
        &["version", "contact", "license", "termsOfService"],
    );
}

/// The entries of the array `key` present on both sides, matched by their `name`.
fn named_pairs<'a>(owner: &Pair<'a>, key: &str) -> Vec<Pair<'a>> {
    let entries = |node: &Node<'a>| -> Vec<Node<'a>> {
        let list = child(Some(node), key);
        list.iter()
            .flat_map(|list| {
                list.value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(index, value)| Node {
                        pointer: format!("{}/{index}", list.pointer),
                        value,
                    })
            })
            .collect()
    };
    let new_entries = entries(&owner.new);
    entries(&owner.old)
        .into_iter()
        .filter_map(|old| {
            let new = new_entries
                .iter()
                .find(|new| new.value.get("name") == old.value.get("name"))?;
            Some(Pair::new(old, new.clone()))
        })
        .collect()
}

fn components<'a>(diff: &mut Diff<'a>, document: &Pair<'a>) {
    let group = Group::Document;
    let empty = Node {
        pointer: "/components".into(),
        value: &Value::Null,
    };
    let components = Pair::new(
        child(Some(&document.old), "components").unwrap_or_else(|| empty.clone()),
        child(Some(&document.new), "components").unwrap_or(empty),
    );
    for kind in USED_COMPONENTS
        .iter()
        .chain(&["securitySchemes", "examples"])
    {
        let (old_kind, new_kind) = (
            child(Some(&components.old), kind),
            child(Some(&components.new), kind),
        );
        let none = Value::Null;
        let value = |node: &Option<Node<'a>>| node.as_ref().map_or(&none, |node| node.value);
        for name in union_of_keys(value(&old_kind), value(&new_kind)) {
            let (old, new) = (
                child(old_kind.as_ref(), name),
                child(new_kind.as_ref(), name),
            );
            match (old, new) {
                (Some(old), Some(new)) => match *kind {
                    "securitySchemes" => security_scheme(diff, name, &Pair::new(old, new)),
                    "examples" if old.value != new.value => {
                        let what = format!("example {name} changed");
                        diff.record_both(
                            &group,
                            &rules::EXAMPLE_CHANGED,
                            &Pair::new(old, new),
                            what,
                        );
                    }
                    _ => {}
                },
                (Some(old), None) => {
                    let what = format!("{kind} component {name} removed");
                    diff.record(
                        &group,
                        &rules::COMPONENT_REMOVED,
                        Some(old.pointer),
                        None,
                        what,
                    );
                }
                (None, Some(new)) => {
                    let what = format!("{kind} component {name} added");
                    diff.record(
                        &group,
                        &rules::COMPONENT_ADDED,
                        None,
                        Some(new.pointer),
                        what,
                    );
                }
                (None, None) => {}
            }
        }
    }
    let handled: Vec<&str> = USED_COMPONENTS
        .iter()
        .copied()
        .chain(["schemas", "securitySchemes", "examples"])
        .collect();
    diff.rest(&group, &components, &handled);
}

/// A security scheme both documents define: prose is documentation, anything else changes how
/// consumers authenticate.
fn security_scheme(diff: &mut Diff, name: &str, scheme: &Pair) {
    for key in union_of_keys(scheme.old.value, scheme.new.value) {
        if scheme.same(key) || documentation_rule(key).is_some() {
            continue;
        }
        let what = format!("security scheme {name}: `{key}` changed");
        let pointers = (Some(at(&scheme.old, key)), Some(at(&scheme.new, key)));
        diff.record(
            &Group::Document,
            &rules::SECURITY_SCHEME_CHANGED,
            pointers.0,
            pointers.1,
            what,
        );
    }
    let keys: Vec<&str> = union_of_keys(scheme.old.value, scheme.new.value)
        .into_iter()
        .filter(|key| documentation_rule(key).is_none())
        .map(String::as_str)
        .collect();
    diff.rest(&Group::Document, scheme, &keys);
}
