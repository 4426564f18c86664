//! The `content` map of a request body or a response: media types added or removed, and the
//! schema of each media type both sides have.

use leads_spec::Node;

use super::rules::Rule;
use super::schemas;
use super::walk::{Diff, Pair, Scope, child, union_of_keys};

/// How a side of the exchange judges a media type appearing or disappearing.
pub struct MediaTypeRules {
    pub removed: &'static Rule,
    pub added: &'static Rule,
}

/// Compares the `content` of two request bodies or responses (`owner`); no `content` is an
/// empty one.
pub fn compare<'a>(diff: &mut Diff<'a>, scope: &Scope, owner: &Pair<'a>, rules: &MediaTypeRules) {
    let old_content = child(Some(&owner.old), "content");
    let new_content = child(Some(&owner.new), "content");
    let none = serde_json::Value::Null;
    let value = |node: &Option<Node<'a>>| node.as_ref().map_or(&none, |node| node.value);
    for media_type in union_of_keys(value(&old_content), value(&new_content)) {
        let old = child(old_content.as_ref(), media_type);
        let new = child(new_content.as_ref(), media_type);
        match (old, new) {
            (Some(old), Some(new)) => media(diff, scope, &Pair::new(old, new)),
            (Some(old), None) => {
                let what = format!("media type {media_type} removed");
                diff.record(&scope.group, rules.removed, Some(old.pointer), None, what);
            }
            (None, Some(new)) => {
                let what = format!("media type {media_type} added");
                diff.record(&scope.group, rules.added, None, Some(new.pointer), what);
            }
            (None, None) => {}
        }
    }
}

fn media<'a>(diff: &mut Diff<'a>, scope: &Scope, media: &Pair<'a>) {
    schemas::compare_owned(diff, scope, media);
    diff.rest(&scope.group, media, &["schema"]);
}
