//! Golden tests of the CI forms of a report (GitHub annotations, JUnit XML) and of waivers in
//! every form, on the corpus: the base document changed by a few cases' edits, its lines read
//! from `corpus/base.yaml`. Each report is an insta snapshot under `snapshots/`.

use chrono::NaiveDate;
use quick_xml::escape::unescape;
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};
use semver::Version;
use serde_json::Value;

use super::corpus::{apply, case, corpus_dir, load};
use super::lines::Lines;
use super::waivers::{self, Note};
use super::{Change, Class, Format, Title, compare, render_titled};

/// The base document, as annotations name it, and where its pointers land.
const BASE: &str = "xtask/src/diff/corpus/base.yaml";

/// The base changed by the `after` edits of each case named.
fn changed(cases: &[&str]) -> Vec<Change> {
    let (old, mut new, _) = case("no_change");
    for name in cases {
        let case = load(&corpus_dir().join("cases").join(format!("{name}.yaml")));
        apply(&mut new, &case["after"]);
    }
    compare(&old, &new)
}

fn title(waiver_notes: Vec<Note>) -> Title {
    let text = std::fs::read_to_string(corpus_dir().join("base.yaml")).unwrap();
    Title {
        labels: Some(("1.0.0".into(), BASE.into())),
        old_version: Some(Version::new(1, 0, 0)),
        file: Some(BASE.into()),
        lines: Lines::of(&text),
        waiver_notes,
    }
}

/// A breaking change in an operation and one in a schema, a compatible one, documentation.
const MIXED: &[&str] = &[
    "security_changed",
    "response_enum_value_added",
    "response_property_added",
    "description_changed",
];

#[test]
fn github_report() {
    let changes = changed(MIXED);
    let report = render_titled(&changes, Format::Github, &title(Vec::new()));
    // Every line is a workflow command, and a breaking change lands on its spec line.
    assert!(
        report.lines().all(|line| line.starts_with("::")),
        "{report}"
    );
    assert!(
        report.contains(
            "::error file=xtask/src/diff/corpus/base.yaml,line=15,title=breaking%3A \
             security-changed::"
        ),
        "{report}"
    );
    insta::assert_snapshot!("github_report", report);
}

/// A JUnit test case as its reader sees it: name, outcome (`passed`, `failure`, `skipped`),
/// and its text (the failure's or the output's).
type JunitCase = (String, String, String);

/// The test cases of a JUnit report, and the suite's counts.
fn read_junit(xml: &str) -> (Vec<JunitCase>, Vec<(String, String)>) {
    let mut reader = Reader::from_str(xml);
    let (mut cases, mut counts) = (Vec::new(), Vec::new());
    let attribute = |element: &quick_xml::events::BytesStart, name: &str| {
        element
            .try_get_attribute(name)
            .unwrap()
            .map(|value| {
                let value = value.normalized_value(XmlVersion::Implicit1_0).unwrap();
                value.into_owned()
            })
            .unwrap_or_default()
    };
    let mut capturing = false;
    loop {
        let event = reader.read_event().unwrap();
        let case: Option<&mut JunitCase> = cases.last_mut();
        match event {
            Event::Eof => break,
            Event::Start(element) | Event::Empty(element) => match element.name().as_ref() {
                "testsuite" => {
                    for name in ["tests", "failures", "skipped"] {
                        counts.push((name.to_string(), attribute(&element, name)));
                    }
                }
                "testcase" => {
                    cases.push((attribute(&element, "name"), "passed".into(), String::new()))
                }
                outcome @ ("failure" | "skipped" | "system-out") => {
                    capturing = true;
                    if outcome != "system-out" {
                        case.unwrap().1 = outcome.to_string();
                    }
                }
                _ => {}
            },
            Event::End(_) => capturing = false,
            Event::Text(text) if capturing => case.unwrap().2.push_str(&text.xml10_content()),
            Event::GeneralRef(entity) if capturing => {
                let entity = format!("&{};", entity.xml10_content());
                case.unwrap().2.push_str(&unescape(&entity).unwrap());
            }
            _ => {}
        }
    }
    (cases, counts)
}

#[test]
fn junit_report() {
    let changes = changed(MIXED);
    let report = render_titled(&changes, Format::Junit, &title(Vec::new()));
    let (cases, counts) = read_junit(&report);
    let outcomes: Vec<&str> = cases.iter().map(|case| case.1.as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "failure").count(), 2);
    assert_eq!(outcomes.len(), changes.len());
    assert_eq!(counts[1], ("failures".to_string(), "2".to_string()));
    insta::assert_snapshot!("junit_report", report);
}

#[test]
fn junit_escapes_what_a_change_says() {
    let mut changes = changed(&["security_changed"]);
    changes[0].what = "a <b> & \"c\" 'd' \u{1}e".into();
    let report = render_titled(&changes, Format::Junit, &title(Vec::new()));
    assert!(report.contains("a &lt;b&gt; &amp;"), "{report}");
    let (cases, _) = read_junit(&report);
    assert!(
        cases[0].2.starts_with("breaking: a <b> & \"c\" 'd' e\n"),
        "{:?}",
        cases[0]
    );
}

/// A waiver for each case: one that holds, one that matches nothing, one past its date, and
/// one naming a compatible change.
const WAIVERS: &str = "\
waivers:
  - kind: response-enum-value-added
    pointer: /components/schemas/Thing/properties/kind/enum/2
    reason: >-
      Only clients of the new `huge` filter
      ever see it.
    expires: 2027-01-31
  - kind: response-enum-value-added
    pointer: /components/schemas/Status/enum/9
    reason: Left over from the last release.
  - kind: request-constraint-narrowed
    pointer: /components/schemas/ThingCreate/properties/name/maxLength
    reason: No client sends names that long.
    expires: 2026-12-31
  - kind: response-property-added
    pointer: /components/schemas/Thing/properties/weight
    reason: Needed no waiver.
";

fn waived() -> (Vec<Change>, Vec<Note>) {
    let mut changes = changed(&[
        "response_enum_value_added",
        "request_max_length_lowered",
        "response_property_added",
    ]);
    let today = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    let notes = waivers::apply(&mut changes, &waivers::parse(WAIVERS).unwrap(), today);
    (changes, notes)
}

#[test]
fn waivers_in_every_form() {
    let (changes, notes) = waived();
    let waived: Vec<(&str, bool)> = changes
        .iter()
        .map(|change| (change.kind, change.waiver.is_some()))
        .collect();
    assert_eq!(
        waived,
        [
            ("response-enum-value-added", true),
            ("response-property-added", false),
            ("request-constraint-narrowed", false),
        ]
    );
    let words: Vec<&str> = notes.iter().map(Note::word).collect();
    assert_eq!(words, ["stale", "expired", "stale"]);
    let title = title(notes);
    let text = render_titled(&changes, Format::Text, &title);
    // The expired waiver leaves its change breaking: still a major step.
    assert!(
        text.contains("Summary: 1 breaking, 1 breaking waived, 1 compatible"),
        "{text}"
    );
    assert!(
        text.ends_with("required bump: major (from 1.0.0)\n"),
        "{text}"
    );
    insta::assert_snapshot!("waivers_text", text);
    insta::assert_snapshot!(
        "waivers_markdown",
        render_titled(&changes, Format::Markdown, &title)
    );
    let json: Value = serde_json::from_str(&render_titled(&changes, Format::Json, &title)).unwrap();
    assert_eq!(json[0]["class"], "breaking");
    assert_eq!(json[0]["breaking"], false);
    assert_eq!(json[2]["breaking"], true);
    insta::assert_json_snapshot!("waivers_json", json);
    insta::assert_snapshot!(
        "waivers_github",
        render_titled(&changes, Format::Github, &title)
    );
    let junit = render_titled(&changes, Format::Junit, &title);
    let (cases, counts) = read_junit(&junit);
    let outcomes: Vec<&str> = cases.iter().map(|case| case.1.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "passed", "passed", "failure", "skipped", "failure", "skipped"
        ]
    );
    assert!(
        cases[0].2.contains("waived (waiver 1): Only clients"),
        "{cases:?}"
    );
    assert_eq!(counts[2], ("skipped".to_string(), "2".to_string()));
    insta::assert_snapshot!("waivers_junit", junit);
}

#[test]
fn a_waived_breaking_change_alone_needs_a_minor_step() {
    let (mut changes, _) = waived();
    changes.retain(|change| change.waiver.is_some());
    assert_eq!(changes[0].class, Class::Breaking);
    let text = render_titled(&changes, Format::Text, &title(Vec::new()));
    assert!(
        text.ends_with(
            "Summary: 0 breaking, 1 breaking waived, 0 compatible, 0 documentation; required \
             bump: minor (from 1.0.0)\n"
        ),
        "{text}"
    );
}
