//! The state of one comparison ([`Diff`]): both documents, the changes found so far, and the
//! safety net every comparing function ends with ([`Diff::rest`]): keys it does not handle are
//! documentation if they are prose, examples or extensions, and otherwise "unclassified",
//! which is breaking. So no difference goes unreported.

use std::collections::{BTreeSet, HashSet};

use leads_spec::EXTENSIBLE;
use leads_spec::pointer::escape;
use leads_spec::{Document, Node};
use serde_json::Value;

use super::change::{Change, Group};
use super::rules::{self, Directed, Rule};

/// Which way a schema's values travel, seen from the consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// The consumer sends it: narrowing breaks.
    Request,
    /// The consumer reads it: widening breaks.
    Response,
}

impl Direction {
    pub fn rule(self, rule: &'static Directed) -> &'static Rule {
        match self {
            Direction::Request => &rule.request,
            Direction::Response => &rule.response,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// Where changes being found are reported, and which way values travel there.
#[derive(Clone, Debug)]
pub struct Scope {
    pub group: Group,
    pub direction: Direction,
}

/// Two documents being compared, and what has been found.
pub struct Diff<'a> {
    pub old: Document<'a>,
    pub new: Document<'a>,
    pub changes: Vec<Change>,
    /// Schema component names whose changes are changes of the error envelope.
    pub envelopes: BTreeSet<String>,
    /// `(group, old pointer, new pointer, direction)` of schema pairs already compared, so that
    /// recursive schemas end and no pair is reported twice in one group.
    compared: HashSet<(String, String, String, Direction)>,
}

/// The value of a key of an optional node, with its pointer.
pub fn child<'a>(node: Option<&Node<'a>>, key: &str) -> Option<Node<'a>> {
    let node = node?;
    node.value.get(key).map(|value| Node {
        pointer: format!("{}/{}", node.pointer, escape(key)),
        value,
    })
}

/// `node`'s pointer with `key` appended: where `key` is, or would be.
pub fn at(node: &Node, key: &str) -> String {
    format!("{}/{}", node.pointer, escape(key))
}

/// The keys of an object value, or none.
pub fn keys(value: &Value) -> impl Iterator<Item = &String> {
    value.as_object().into_iter().flat_map(|map| map.keys())
}

/// Both sides' keys, each once, sorted.
pub fn union_of_keys<'v>(old: &'v Value, new: &'v Value) -> BTreeSet<&'v String> {
    keys(old).chain(keys(new)).collect()
}

/// The keys of OpenAPI whose children are names, not keywords.
const NAME_MAPS: [&str; 9] = [
    "callbacks",
    "content",
    "encoding",
    "headers",
    "links",
    "parameters",
    "properties",
    "responses",
    "schemas",
];

/// The rule for a differing key that is prose, an example or an extension, wherever it is.
pub fn documentation_rule(key: &str) -> Option<&'static Rule> {
    Some(match key {
        "description" => &rules::DESCRIPTION_CHANGED,
        "summary" => &rules::SUMMARY_CHANGED,
        "title" => &rules::TITLE_CHANGED,
        "example" | "examples" => &rules::EXAMPLE_CHANGED,
        "externalDocs" => &rules::EXTERNAL_DOCS_CHANGED,
        EXTENSIBLE => &rules::EXTENSIBILITY_CHANGED,
        key if key.starts_with("x-") => &rules::EXTENSION_CHANGED,
        _ => return None,
    })
}

impl<'a> Diff<'a> {
    pub fn new(old: &'a Value, new: &'a Value) -> Self {
        Self {
            old: Document::new(old),
            new: Document::new(new),
            changes: Vec::new(),
            envelopes: BTreeSet::new(),
            compared: HashSet::new(),
        }
    }

    /// Records a change classified by `rule`.
    pub fn record(
        &mut self,
        group: &Group,
        rule: &'static Rule,
        old_pointer: Option<String>,
        new_pointer: Option<String>,
        what: String,
    ) {
        self.changes.push(Change {
            kind: rule.kind,
            class: rule.class,
            old_pointer,
            new_pointer,
            group: group.clone(),
            what,
            why: rule.why.to_string(),
            reached_by: Vec::new(),
            waiver: None,
        });
    }

    /// Records a change at the same place in both documents.
    pub fn record_both(&mut self, group: &Group, rule: &'static Rule, pair: &Pair, what: String) {
        let (old, new) = (
            Some(pair.old.pointer.clone()),
            Some(pair.new.pointer.clone()),
        );
        self.record(group, rule, old, new, what);
    }

    /// Records a difference no rule classifies: breaking, naming where it is.
    pub fn unclassified(&mut self, group: &Group, pair: &Pair, detail: &str) {
        let what = format!("{detail} at {}", pair.new.pointer);
        self.record_both(group, &rules::UNCLASSIFIED, pair, what);
    }

    /// Whether the pair is compared for the first time in this group and direction; marks it.
    pub fn first_visit(&mut self, scope: &Scope, pair: &Pair) -> bool {
        self.compared.insert((
            scope.group.title(),
            pair.old.pointer.clone(),
            pair.new.pointer.clone(),
            scope.direction,
        ))
    }

    /// The safety net: every key of `pair` outside `handled` that differs is reported, as
    /// documentation if it is prose, an example or an extension, else as unclassified.
    pub fn rest(&mut self, group: &Group, pair: &Pair, handled: &[&str]) {
        for key in union_of_keys(pair.old.value, pair.new.value) {
            if handled.contains(&key.as_str()) {
                continue;
            }
            let (old, new) = (pair.old.value.get(key), pair.new.value.get(key));
            if old == new {
                continue;
            }
            match (documentation_rule(key), pair.child(key)) {
                (Some(rule), _) => self.record_documentation(group, rule, pair, key),
                // No rule judges a callback (a request the server sends, which consumers
                // receive), but its prose is prose: only what else differs is unclassified.
                (None, Some(callbacks)) if key == "callbacks" => {
                    self.rest_within(group, &callbacks, true);
                }
                (None, _) => {
                    let (old_pointer, new_pointer) = (at(&pair.old, key), at(&pair.new, key));
                    let what = format!("`{key}` differs at {new_pointer}");
                    let rule = &rules::UNCLASSIFIED;
                    self.record(group, rule, Some(old_pointer), Some(new_pointer), what);
                }
            }
        }
    }

    /// Records that `key` of `pair`, prose, an example or an extension, was added, removed or
    /// changed.
    fn record_documentation(&mut self, group: &Group, rule: &'static Rule, pair: &Pair, key: &str) {
        let (old, new) = (pair.old.value.get(key), pair.new.value.get(key));
        let what = match (old, new) {
            (None, _) => format!("`{key}` added"),
            (_, None) => format!("`{key}` removed"),
            _ => format!("`{key}` changed"),
        };
        let old_pointer = old.map(|_| at(&pair.old, key));
        let new_pointer = new.map(|_| at(&pair.new, key));
        self.record(group, rule, old_pointer, new_pointer, what);
    }

    /// The safety net within a value no rule walks, difference by difference: prose, examples
    /// and extensions are documentation where they are keywords, and any other difference is
    /// unclassified. `names` says that `pair`'s keys are names (of properties, headers, media
    /// types, callbacks…), where a key called `description` is a name, not prose.
    fn rest_within<'p>(&mut self, group: &Group, pair: &Pair<'p>, names: bool) {
        match (pair.old.value, pair.new.value) {
            (Value::Object(_), Value::Object(_)) => {
                for key in union_of_keys(pair.old.value, pair.new.value) {
                    if pair.same(key) {
                        continue;
                    }
                    match (documentation_rule(key).filter(|_| !names), pair.child(key)) {
                        (Some(rule), _) => self.record_documentation(group, rule, pair, key),
                        (None, Some(inner)) => {
                            self.rest_within(group, &inner, NAME_MAPS.contains(&key.as_str()));
                        }
                        (None, None) => {
                            let what = format!("`{key}` added or removed");
                            let (old, new) = (pair.old.value.get(key), pair.new.value.get(key));
                            let old_pointer = old.map(|_| at(&pair.old, key));
                            let new_pointer = new.map(|_| at(&pair.new, key));
                            self.record(
                                group,
                                &rules::UNCLASSIFIED,
                                old_pointer,
                                new_pointer,
                                what,
                            );
                        }
                    }
                }
            }
            (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
                for (index, (old, new)) in old.iter().zip(new).enumerate() {
                    if old != new {
                        let item = |node: &Node<'p>, value: &'p Value| Node {
                            pointer: format!("{}/{index}", node.pointer),
                            value,
                        };
                        let inner = Pair::new(item(&pair.old, old), item(&pair.new, new));
                        self.rest_within(group, &inner, false);
                    }
                }
            }
            _ => self.unclassified(group, pair, "a value differs"),
        }
    }

    /// Follows `$ref`s on both sides. A reference that leads nowhere is reported (as
    /// unclassified, naming the error) and ends the comparison there.
    pub fn resolve(&mut self, group: &Group, pair: Pair<'a>) -> Option<Pair<'a>> {
        let old = self.old.resolve_node(pair.old.clone());
        let new = self.new.resolve_node(pair.new.clone());
        match (old, new) {
            (Ok(old), Ok(new)) => Some(Pair { old, new }),
            (Err(error), _) | (_, Err(error)) => {
                self.unclassified(group, &pair, &format!("unresolvable reference ({error})"));
                None
            }
        }
    }
}

/// The same place in both documents.
#[derive(Clone, Debug)]
pub struct Pair<'a> {
    pub old: Node<'a>,
    pub new: Node<'a>,
}

impl<'a> Pair<'a> {
    pub fn new(old: Node<'a>, new: Node<'a>) -> Self {
        Self { old, new }
    }

    /// The value of `key` on both sides, if both have it.
    pub fn child(&self, key: &str) -> Option<Pair<'a>> {
        Some(Pair {
            old: child(Some(&self.old), key)?,
            new: child(Some(&self.new), key)?,
        })
    }

    /// Whether `key` holds the same value (or is missing) on both sides.
    pub fn same(&self, key: &str) -> bool {
        self.old.value.get(key) == self.new.value.get(key)
    }
}
