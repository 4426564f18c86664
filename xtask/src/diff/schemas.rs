//! Comparing two Schema Objects in one [`Direction`]: types, formats, `nullable`, enums,
//! bounds, patterns, properties and `required`, `additionalProperties`, `items`, and
//! `allOf`/`anyOf`/`oneOf` (position by position). A `$ref` to the same component schema on
//! both sides stops the walk: that component is compared once, in its own group
//! ([`super::components`]). Set-valued keywords (`required`, `enum` membership) are compared
//! as sets; the order of `required` carries no meaning and is not reported.

use std::collections::BTreeSet;

use leads_spec::EXTENSIBLE;
use leads_spec::{Node, schema_component};
use serde_json::Value;

use super::rules::{self, Directed};
use super::walk::{Diff, Pair, Scope, at, child, keys};

/// The keywords this module judges; any other difference goes to the safety net.
const HANDLED: &[&str] = &[
    "type",
    "format",
    "nullable",
    "enum",
    "pattern",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "allOf",
    "anyOf",
    "oneOf",
    "default",
    "deprecated",
    "maxLength",
    "maximum",
    "maxItems",
    "maxProperties",
    "minLength",
    "minimum",
    "minItems",
    "minProperties",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "uniqueItems",
];

/// Bounds whose lowering narrows what is allowed.
const UPPER_BOUNDS: [&str; 4] = ["maxLength", "maximum", "maxItems", "maxProperties"];
/// Bounds whose raising narrows what is allowed.
const LOWER_BOUNDS: [&str; 4] = ["minLength", "minimum", "minItems", "minProperties"];
/// Flags whose turning on narrows what is allowed.
const NARROWING_FLAGS: [&str; 3] = ["exclusiveMaximum", "exclusiveMinimum", "uniqueItems"];
const COMPOSITIONS: [&str; 3] = ["allOf", "anyOf", "oneOf"];

/// Compares the schemas of `pair` as values travelling in `scope.direction`.
pub fn compare<'a>(diff: &mut Diff<'a>, scope: &Scope, pair: Pair<'a>) {
    if names_same_component(diff, &pair) {
        return;
    }
    let Some(pair) = diff.resolve(&scope.group, pair) else {
        return;
    };
    if !diff.first_visit(scope, &pair) {
        return;
    }
    Walk { diff, scope }.schema(&pair);
}

/// Compares the `schema` of two parameters, headers or media types (`owner`); a schema on one
/// side only is unclassified.
pub fn compare_owned<'a>(diff: &mut Diff<'a>, scope: &Scope, owner: &Pair<'a>) {
    match owner.child("schema") {
        Some(schema) => compare(diff, scope, schema),
        None if !owner.same("schema") => {
            diff.unclassified(&scope.group, owner, "`schema` added or removed")
        }
        None => {}
    }
}

/// Whether both sides are the same `$ref` to a component schema both documents define.
fn names_same_component(diff: &Diff, pair: &Pair) -> bool {
    let reference = pair.old.value.get("$ref").and_then(Value::as_str);
    reference.is_some_and(|reference| {
        pair.new.value.get("$ref").and_then(Value::as_str) == Some(reference)
            && schema_component(reference).is_some()
            && diff.old.lookup(reference).is_ok()
            && diff.new.lookup(reference).is_ok()
    })
}

/// What `additionalProperties` allows.
enum Extra<'a> {
    /// Absent, `true` or `{}`: any extra key.
    Open,
    /// `false`: none.
    Closed,
    /// Extra keys whose values match a schema.
    Schema(Node<'a>),
}

fn extra<'a>(schema: &Node<'a>) -> Extra<'a> {
    match child(Some(schema), "additionalProperties") {
        None => Extra::Open,
        Some(node) => match node.value {
            Value::Bool(false) => Extra::Closed,
            Value::Bool(true) => Extra::Open,
            Value::Object(map) if map.is_empty() => Extra::Open,
            _ => Extra::Schema(node),
        },
    }
}

/// A value for a report: strings bare, anything else as JSON, absence as "none".
fn show(value: Option<&Value>) -> String {
    match value {
        None => "none".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// Where `key` is in `node`, or `node` itself where it has no `key`.
fn key_pointer(node: &Node, key: &str) -> String {
    if node.value.get(key).is_some() {
        at(node, key)
    } else {
        node.pointer.clone()
    }
}

/// The names a schema lists as `required`.
fn required(schema: &Value) -> BTreeSet<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The `index`th element of an array node.
fn element<'a>(node: &Node<'a>, index: usize) -> Option<Node<'a>> {
    node.value.get(index).map(|value| Node {
        pointer: format!("{}/{index}", node.pointer),
        value,
    })
}

/// One comparison in one scope.
struct Walk<'d, 'a, 's> {
    diff: &'d mut Diff<'a>,
    scope: &'s Scope,
}

impl<'a> Walk<'_, 'a, '_> {
    fn schema(&mut self, pair: &Pair<'a>) {
        self.type_and_format(pair);
        self.nullable(pair);
        self.enum_values(pair);
        self.bounds(pair);
        self.pattern(pair);
        self.properties(pair);
        self.additional_properties(pair);
        self.items(pair);
        self.compositions(pair);
        self.default_and_deprecation(pair);
        self.diff.rest(&self.scope.group, pair, HANDLED);
    }

    /// Records a change judged by the direction's side of `rule`.
    fn record(
        &mut self,
        rule: &'static Directed,
        old: Option<String>,
        new: Option<String>,
        what: String,
    ) {
        let rule = self.scope.direction.rule(rule);
        self.diff.record(&self.scope.group, rule, old, new, what);
    }

    /// Records a change of `key`, pointing at it on each side (or at the schema lacking it).
    fn record_key(&mut self, rule: &'static Directed, pair: &Pair, key: &str, what: String) {
        let old = key_pointer(&pair.old, key);
        let new = key_pointer(&pair.new, key);
        self.record(rule, Some(old), Some(new), what);
    }

    /// Records that `key` changed value, saying from what to what.
    fn record_value_change(&mut self, rule: &'static Directed, pair: &Pair, key: &str) {
        let (old, new) = (show(pair.old.value.get(key)), show(pair.new.value.get(key)));
        self.record_key(
            rule,
            pair,
            key,
            format!("`{key}` changed from {old} to {new}"),
        );
    }

    fn type_and_format(&mut self, pair: &Pair) {
        for (key, rule) in [
            ("type", &rules::TYPE_CHANGED),
            ("format", &rules::FORMAT_CHANGED),
        ] {
            if !pair.same(key) {
                self.record_value_change(rule, pair, key);
            }
        }
    }

    fn nullable(&mut self, pair: &Pair) {
        let nullable = |node: &Node| node.value.get("nullable") == Some(&Value::Bool(true));
        match (nullable(&pair.old), nullable(&pair.new)) {
            (true, false) => self.record_key(
                &rules::NULLABLE_REMOVED,
                pair,
                "nullable",
                "no longer nullable".into(),
            ),
            (false, true) => self.record_key(
                &rules::NULLABLE_ADDED,
                pair,
                "nullable",
                "became nullable".into(),
            ),
            _ => {}
        }
    }

    fn enum_values(&mut self, pair: &Pair<'a>) {
        let values = |node: &Node<'a>| child(Some(node), "enum");
        match (values(&pair.old), values(&pair.new)) {
            (None, None) => {}
            (None, Some(_)) => self.record_key(
                &rules::ENUM_ADDED,
                pair,
                "enum",
                "values restricted to an enum".into(),
            ),
            (Some(_), None) => self.record_key(
                &rules::ENUM_REMOVED,
                pair,
                "enum",
                "enum dropped: any value allowed".into(),
            ),
            (Some(old), Some(new)) => {
                let extensible = pair.old.value.get(EXTENSIBLE) == Some(&Value::Bool(true));
                self.enum_members(&old, &new, extensible);
            }
        }
    }

    /// The values removed, added (compatible both ways if the old schema was `extensible`:
    /// its consumers were told to expect more) and reordered.
    fn enum_members(&mut self, old: &Node<'a>, new: &Node<'a>, extensible: bool) {
        let listed =
            |node: &Node<'a>| -> Vec<Value> { node.value.as_array().cloned().unwrap_or_default() };
        let (old_values, new_values) = (listed(old), listed(new));
        for (index, value) in old_values.iter().enumerate() {
            if !new_values.contains(value) {
                let what = format!("enum value {} removed", show(Some(value)));
                let old_pointer = format!("{}/{index}", old.pointer);
                self.record(
                    &rules::ENUM_VALUE_REMOVED,
                    Some(old_pointer),
                    Some(new.pointer.clone()),
                    what,
                );
            }
        }
        for (index, value) in new_values.iter().enumerate() {
            if !old_values.contains(value) {
                let what = format!("enum value {} added", show(Some(value)));
                let new_pointer = format!("{}/{index}", new.pointer);
                let rule = if extensible {
                    &rules::EXTENSIBLE_ENUM_VALUE_ADDED
                } else {
                    &rules::ENUM_VALUE_ADDED
                };
                self.record(rule, Some(old.pointer.clone()), Some(new_pointer), what);
            }
        }
        let same_members = old_values.len() == new_values.len()
            && old_values.iter().all(|value| new_values.contains(value));
        if same_members && old_values != new_values {
            let (old_pointer, new_pointer) = (Some(old.pointer.clone()), Some(new.pointer.clone()));
            let what = "enum values reordered".to_string();
            let group = &self.scope.group;
            self.diff.record(
                group,
                &rules::ENUM_REORDERED,
                old_pointer,
                new_pointer,
                what,
            );
        }
    }

    fn bounds(&mut self, pair: &Pair) {
        for key in UPPER_BOUNDS.into_iter().chain(LOWER_BOUNDS) {
            if pair.same(key) {
                continue;
            }
            let number = |node: &Node| node.value.get(key).map(Value::as_f64);
            let (old, new) = (number(&pair.old), number(&pair.new));
            let upper = UPPER_BOUNDS.contains(&key);
            let narrowed = match (old, new) {
                (Some(Some(old)), Some(Some(new))) => (new < old) == upper,
                (None, Some(Some(_))) => true,
                (Some(Some(_)), None) => false,
                _ => {
                    let (old_pointer, new_pointer) =
                        (key_pointer(&pair.old, key), key_pointer(&pair.new, key));
                    let what = format!("`{key}` is not a number at {new_pointer}");
                    let group = &self.scope.group;
                    self.diff.record(
                        group,
                        &rules::UNCLASSIFIED,
                        Some(old_pointer),
                        Some(new_pointer),
                        what,
                    );
                    continue;
                }
            };
            let rule = if narrowed {
                &rules::CONSTRAINT_NARROWED
            } else {
                &rules::CONSTRAINT_WIDENED
            };
            self.record_value_change(rule, pair, key);
        }
        for key in NARROWING_FLAGS {
            let on = |node: &Node| node.value.get(key) == Some(&Value::Bool(true));
            let rule = match (on(&pair.old), on(&pair.new)) {
                (false, true) => &rules::CONSTRAINT_NARROWED,
                (true, false) => &rules::CONSTRAINT_WIDENED,
                // Equal, or absent against `false`: the same meaning.
                _ => continue,
            };
            let what = format!(
                "`{key}` turned {}",
                if on(&pair.new) { "on" } else { "off" }
            );
            self.record_key(rule, pair, key, what);
        }
    }

    fn pattern(&mut self, pair: &Pair) {
        if pair.same("pattern") {
            return;
        }
        let (old, new) = (pair.old.value.get("pattern"), pair.new.value.get("pattern"));
        let rule = match (old, new) {
            (None, _) => &rules::PATTERN_ADDED,
            (_, None) => &rules::PATTERN_REMOVED,
            _ => &rules::PATTERN_CHANGED,
        };
        let what = format!("`pattern` changed from {} to {}", show(old), show(new));
        self.record_key(rule, pair, "pattern", what);
    }

    fn properties(&mut self, pair: &Pair<'a>) {
        let (old_required, new_required) = (required(pair.old.value), required(pair.new.value));
        let (old_properties, new_properties) = (
            child(Some(&pair.old), "properties"),
            child(Some(&pair.new), "properties"),
        );
        let empty = Value::Null;
        let listed = |node: &Option<Node<'a>>| -> BTreeSet<String> {
            keys(node.as_ref().map_or(&empty, |node| node.value))
                .cloned()
                .collect()
        };
        let (old_names, new_names) = (listed(&old_properties), listed(&new_properties));
        for name in old_names.union(&new_names) {
            let old = child(old_properties.as_ref(), name);
            let new = child(new_properties.as_ref(), name);
            let now_required = new_required.contains(name.as_str());
            match (old, new) {
                (Some(old), Some(new)) => {
                    let was_required = old_required.contains(name.as_str());
                    let property = Pair::new(old, new);
                    self.required_flag(&property, name, was_required, now_required);
                    compare(self.diff, self.scope, property);
                }
                (Some(old), None) => {
                    let what = format!("property `{name}` removed");
                    self.record(&rules::PROPERTY_REMOVED, Some(old.pointer), None, what);
                }
                (None, Some(new)) if now_required => {
                    let what = format!("required property `{name}` added");
                    self.record(
                        &rules::PROPERTY_ADDED_REQUIRED,
                        None,
                        Some(new.pointer),
                        what,
                    );
                }
                (None, Some(new)) => {
                    let what = format!("optional property `{name}` added");
                    self.record(&rules::PROPERTY_ADDED, None, Some(new.pointer), what);
                }
                (None, None) => {}
            }
        }
        // Names required without a schema under `properties`: any value, but present.
        let unlisted = |name: &&&str| !old_names.contains(**name) && !new_names.contains(**name);
        for name in old_required
            .symmetric_difference(&new_required)
            .filter(unlisted)
        {
            let required = Pair::new(
                Node {
                    pointer: key_pointer(&pair.old, "required"),
                    value: pair.old.value,
                },
                Node {
                    pointer: key_pointer(&pair.new, "required"),
                    value: pair.new.value,
                },
            );
            let now_required = new_required.contains(name);
            self.required_flag(&required, name, !now_required, now_required);
        }
    }

    fn required_flag(&mut self, property: &Pair, name: &str, was: bool, now: bool) {
        let (rule, what) = match (was, now) {
            (false, true) => (
                &rules::PROPERTY_BECAME_REQUIRED,
                format!("property `{name}` became required"),
            ),
            (true, false) => (
                &rules::PROPERTY_BECAME_OPTIONAL,
                format!("property `{name}` became optional"),
            ),
            _ => return,
        };
        let (old, new) = (property.old.pointer.clone(), property.new.pointer.clone());
        self.record(rule, Some(old), Some(new), what);
    }

    fn additional_properties(&mut self, pair: &Pair<'a>) {
        let (rule, what) = match (extra(&pair.old), extra(&pair.new)) {
            (Extra::Open, Extra::Open) | (Extra::Closed, Extra::Closed) => return,
            (Extra::Schema(old), Extra::Schema(new)) => {
                compare(self.diff, self.scope, Pair::new(old, new));
                return;
            }
            (Extra::Open | Extra::Schema(_), Extra::Closed) => (
                &rules::ADDITIONAL_PROPERTIES_CLOSED,
                "additionalProperties closed: no extra keys",
            ),
            (Extra::Closed, Extra::Open | Extra::Schema(_)) => (
                &rules::ADDITIONAL_PROPERTIES_OPENED,
                "additionalProperties opened: extra keys allowed",
            ),
            (Extra::Open, Extra::Schema(_)) => (
                &rules::CONSTRAINT_NARROWED,
                "extra keys' values now constrained by a schema",
            ),
            (Extra::Schema(_), Extra::Open) => (
                &rules::CONSTRAINT_WIDENED,
                "extra keys' values no longer constrained",
            ),
        };
        self.record_key(rule, pair, "additionalProperties", what.to_string());
    }

    fn items(&mut self, pair: &Pair<'a>) {
        match pair.child("items") {
            Some(items) => compare(self.diff, self.scope, items),
            None if !pair.same("items") => {
                let what = format!(
                    "`items` added or removed at {}",
                    key_pointer(&pair.new, "items")
                );
                let group = &self.scope.group;
                let (old, new) = (
                    key_pointer(&pair.old, "items"),
                    key_pointer(&pair.new, "items"),
                );
                self.diff
                    .record(group, &rules::UNCLASSIFIED, Some(old), Some(new), what);
            }
            None => {}
        }
    }

    fn compositions(&mut self, pair: &Pair<'a>) {
        for key in COMPOSITIONS {
            if pair.same(key) {
                continue;
            }
            let length = |node: &Node| node.value.get(key).and_then(Value::as_array).map(Vec::len);
            let (old_length, new_length) = (length(&pair.old), length(&pair.new));
            match (pair.child(key), old_length == new_length) {
                (Some(list), true) => {
                    for index in 0..old_length.unwrap_or_default() {
                        if let (Some(old), Some(new)) =
                            (element(&list.old, index), element(&list.new, index))
                        {
                            compare(self.diff, self.scope, Pair::new(old, new));
                        }
                    }
                }
                _ => {
                    let count = |length: Option<usize>| {
                        length.map_or("none".to_string(), |n| n.to_string())
                    };
                    let what = format!(
                        "`{key}` went from {} to {} subschemas",
                        count(old_length),
                        count(new_length)
                    );
                    self.record_key(&rules::COMPOSITION_CHANGED, pair, key, what);
                }
            }
        }
    }

    fn default_and_deprecation(&mut self, pair: &Pair) {
        if !pair.same("default") {
            self.record_value_change(&rules::DEFAULT_CHANGED, pair, "default");
        }
        if !pair.same("deprecated") {
            let (old, new) = (
                key_pointer(&pair.old, "deprecated"),
                key_pointer(&pair.new, "deprecated"),
            );
            let what = format!(
                "`deprecated` changed to {}",
                show(pair.new.value.get("deprecated"))
            );
            let group = &self.scope.group;
            self.diff.record(
                group,
                &rules::DEPRECATION_CHANGED,
                Some(old),
                Some(new),
                what,
            );
        }
    }
}
