//! The corpus: `corpus/base.yaml`, a small spec, and one case per rule under `corpus/cases/`:
//! a YAML file whose `before` edits (if any) make the old document from the base, whose
//! `after` edits make the new one from the base, and whose `expect` lists the `kind: class` of every
//! change, in report order. Each case's text report is pinned as an insta snapshot under
//! `snapshots/`; review a change with `cargo insta review`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use json_patch::PatchOperation;
use semver::Version;
use serde_json::{Value, json};

use super::rules;
use super::{Format, Title, compare, render_titled};

pub(super) fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/diff/corpus")
}

pub(super) fn load(path: &Path) -> Value {
    leads_spec::load(path).unwrap_or_else(|error| panic!("{}: {error:#}", path.display()))
}

/// Applies a case's edits in order: `remove` is RFC 6902's; `set` replaces what is at its
/// pointer, or adds it where nothing is (at an array's length, appending).
pub(super) fn apply(spec: &mut Value, edits: &Value) {
    for edit in edits.as_array().into_iter().flatten() {
        // Whether `set` adds or replaces depends on the edits before it, so one at a time.
        let operation = match (edit.get("set"), edit.get("remove")) {
            (Some(path), None) => {
                let present = path.as_str().and_then(|path| spec.pointer(path)).is_some();
                let op = if present { "replace" } else { "add" };
                json!({"op": op, "path": path, "value": edit["value"]})
            }
            (None, Some(path)) => json!({"op": "remove", "path": path}),
            _ => panic!("an edit is {{set, value}} or {{remove}}: {edit}"),
        };
        let operation: PatchOperation =
            serde_json::from_value(operation).unwrap_or_else(|error| panic!("{edit}: {error}"));
        json_patch::patch(spec, &[operation]).unwrap_or_else(|error| panic!("{edit}: {error}"));
    }
}

/// A case: the old and new documents, and the expected `(kind, class)` of each change.
pub(super) fn case(name: &str) -> (Value, Value, Vec<(String, String)>) {
    let case = load(&corpus_dir().join("cases").join(format!("{name}.yaml")));
    let base = load(&corpus_dir().join("base.yaml"));
    let (mut old, mut new) = (base.clone(), base);
    apply(&mut old, &case["before"]);
    apply(&mut new, &case["after"]);
    (old, new, expected(&case))
}

fn expected(case: &Value) -> Vec<(String, String)> {
    case["expect"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| entry.as_object().unwrap())
        .map(|(kind, class)| (kind.clone(), class.as_str().unwrap().to_string()))
        .collect()
}

/// Compares a case's documents, asserts the classification it expects, and returns the text
/// report.
fn check(name: &str) -> String {
    let (old, new, expected) = case(name);
    let changes = compare(&old, &new);
    let found: Vec<(String, String)> = changes
        .iter()
        .map(|change| (change.kind.to_string(), change.class.name().to_string()))
        .collect();
    let title = Title {
        labels: Some((format!("{name} (before)"), format!("{name} (after)"))),
        old_version: Some(Version::new(1, 0, 0)),
        ..Title::default()
    };
    let report = render_titled(&changes, Format::Text, &title);
    assert_eq!(found, expected, "case {name}:\n{report}");
    report
}

macro_rules! corpus {
    ($($case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                insta::assert_snapshot!(check(stringify!($case)));
            }
        )*
        const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

corpus! {
    both_directions_enum_value_added,
    both_directions_property_became_required,
    both_directions_property_removed,
    callback_prose_changed,
    component_added,
    component_removed,
    description_changed,
    enum_reordered,
    error_envelope_changed,
    error_envelope_documented,
    error_envelope_property_added,
    error_envelope_replaced,
    error_status_added,
    error_status_added_without_envelope,
    error_status_removed,
    example_changed,
    extensibility_marked_with_a_value,
    extensible_enum_value_added,
    extension_changed,
    external_docs_changed,
    info_changed,
    info_version_only,
    no_change,
    operation_added,
    operation_deprecated,
    operation_id_changed,
    operation_removed,
    parameter_added_optional,
    parameter_added_required,
    parameter_became_optional,
    parameter_became_required,
    parameter_constraint_narrowed,
    parameter_removed,
    path_removed,
    request_additional_properties_closed,
    request_additional_properties_opened,
    request_array_items_type_changed,
    request_body_added_optional,
    request_body_added_required,
    request_body_became_optional,
    request_body_became_required,
    request_body_removed,
    request_composition_changed,
    request_constraint_narrowed,
    request_constraint_widened,
    request_default_changed,
    request_enum_added,
    request_enum_removed,
    request_enum_value_added,
    request_enum_value_removed,
    request_exclusive_maximum,
    request_format_changed,
    request_max_items_lowered,
    request_max_length_lowered,
    request_max_properties_added,
    request_media_type_added,
    request_media_type_removed,
    request_min_length_raised,
    request_minimum_raised,
    request_nullable_added,
    request_nullable_removed,
    request_pattern_added,
    request_pattern_changed,
    request_pattern_removed,
    request_property_added,
    request_property_added_required,
    request_property_became_optional,
    request_property_became_required,
    request_property_removed,
    request_type_changed,
    response_additional_properties_closed,
    response_additional_properties_opened,
    response_composition_changed,
    response_constraint_narrowed,
    response_constraint_widened,
    response_default_changed,
    response_enum_added,
    response_enum_removed,
    response_enum_value_added,
    response_enum_value_removed,
    response_format_changed,
    response_header_added,
    response_header_became_optional,
    response_header_became_required,
    response_header_removed,
    response_header_renamed_case,
    response_media_type_added,
    response_media_type_removed,
    response_nullable_added,
    response_nullable_removed,
    response_pattern_added,
    response_pattern_changed,
    response_pattern_removed,
    response_property_added,
    response_property_added_required,
    response_property_became_optional,
    response_property_became_required,
    response_property_removed,
    response_type_changed,
    security_added,
    security_alternative_added,
    security_changed,
    security_removed,
    security_scheme_changed,
    shared_response_changed,
    success_status_added,
    success_status_added_for_new_parameter,
    success_status_added_for_old_parameter,
    success_status_changed,
    success_status_removed,
    summary_changed,
    tags_changed,
    tags_reordered,
    title_changed,
    unclassified_dangling_ref,
    unclassified_not,
    unclassified_servers,
}

#[test]
fn every_case_file_has_a_test() {
    let files: BTreeSet<String> = std::fs::read_dir(corpus_dir().join("cases"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .map(|file| file.trim_end_matches(".yaml").to_string())
        .collect();
    let tested: BTreeSet<String> = CASES.iter().map(ToString::to_string).collect();
    assert_eq!(files, tested);
}

#[test]
fn every_rule_is_exercised_by_a_case_with_its_class() {
    let exercised: BTreeSet<(String, String)> = CASES
        .iter()
        .flat_map(|name| {
            let case = load(&corpus_dir().join("cases").join(format!("{name}.yaml")));
            expected(&case)
        })
        .collect();
    let plain = rules::PLAIN.iter().copied();
    let directed = rules::DIRECTED
        .iter()
        .flat_map(|rule| [&rule.request, &rule.response]);
    let missing: Vec<&str> = plain
        .chain(directed)
        .filter(|rule| !exercised.contains(&(rule.kind.to_string(), rule.class.name().to_string())))
        .map(|rule| rule.kind)
        .collect();
    assert!(
        missing.is_empty(),
        "rules no corpus case exercises: {missing:?}"
    );
}

/// The other two forms of a report, on a case with an operation, a schema and the document.
#[test]
fn json_and_markdown_reports() {
    let (old, mut new, _) = case("no_change");
    apply(
        &mut new,
        &load(&corpus_dir().join("cases/security_changed.yaml"))["after"],
    );
    apply(
        &mut new,
        &load(&corpus_dir().join("cases/response_enum_value_added.yaml"))["after"],
    );
    let changes = compare(&old, &new);
    let title = Title {
        labels: Some(("1.0.0".into(), "openapi/leads.yaml".into())),
        old_version: Some(Version::new(1, 0, 0)),
        ..Title::default()
    };
    let json: Value = serde_json::from_str(&render_titled(&changes, Format::Json, &title)).unwrap();
    assert_eq!(json[0]["breaking"], Value::Bool(true));
    insta::assert_json_snapshot!("json_report", json);
    insta::assert_snapshot!(
        "markdown_report",
        render_titled(&changes, Format::Markdown, &title)
    );
    let untitled = render_titled(&[], Format::Text, &Title::default());
    assert_eq!(
        untitled,
        "No changes.\n\nSummary: 0 breaking, 0 compatible, 0 documentation; required bump: none\n"
    );
}
