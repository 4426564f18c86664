use super::*;
use crate::diff::change::Group;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

const ONE: &str = "\
# A comment, as the real file's header.
waivers:
  - kind: response-enum-value-added
    pointer: /components/schemas/Thing/properties/kind/enum/2
    reason: >-
      Only answered to clients that send
      the new header.
    expires: 2027-03-31
  - kind: request-constraint-narrowed
    pointer: /components/schemas/ThingCreate/properties/name
    reason: No client ever sent more.
";

#[test]
fn a_file_reads_into_numbered_waivers_with_their_lines() {
    let waivers = parse(ONE).unwrap();
    assert_eq!(
        waivers[0],
        Waiver {
            number: 1,
            line: Some(3),
            kind: "response-enum-value-added".into(),
            pointer: "/components/schemas/Thing/properties/kind/enum/2".into(),
            reason: "Only answered to clients that send the new header.".into(),
            expires: Some(date("2027-03-31")),
        }
    );
    assert_eq!((waivers[1].number, waivers[1].line), (2, Some(9)));
    assert_eq!(waivers[1].expires, None);
    assert_eq!(
        waivers[0].reason_until(),
        "Only answered to clients that send the new header. (until 2027-03-31)"
    );
}

#[test]
fn an_empty_file_waives_nothing() {
    for text in ["waivers: []\n", "# only a comment\n", "waivers:\n", ""] {
        assert_eq!(parse(text).unwrap(), [], "{text:?}");
    }
}

#[test]
fn the_workspace_file_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    load(&root).unwrap();
    assert!(root.join(WAIVERS_PATH).exists());
}

/// Each mistake a designer can make, and the message that names it.
#[test]
fn a_malformed_file_names_the_entry_and_its_line() {
    let entry = "waivers:\n  - kind: request-constraint-narrowed\n    pointer: /a\n";
    let cases = [
        (
            format!("{entry}    reason: r\n    expiry: 2027-01-01\n"),
            "openapi/released/waivers.yaml:5: waiver 1: unknown field `expiry`, expected one of \
             `kind`, `pointer`, `reason`, `expires`",
        ),
        (
            entry.to_string(),
            "openapi/released/waivers.yaml:2: waiver 1: missing field `reason`",
        ),
        (
            format!("{entry}    reason: r\n    expires: 2027-02-30\n"),
            "openapi/released/waivers.yaml:5: waiver 1: expires: `2027-02-30` is not a date \
             written YYYY-MM-DD",
        ),
        (
            format!("{entry}    reason: '  '\n"),
            "openapi/released/waivers.yaml:4: waiver 1: reason: empty; say why consumers are \
             not hurt by the change",
        ),
        (
            "waivers:\n  - kind: request-constraint-narowed\n    pointer: /a\n    reason: r\n"
                .to_string(),
            "openapi/released/waivers.yaml:2: waiver 1: kind: `request-constraint-narowed` is no \
             kind the diff engine reports (they are the `kind`s of `cargo xtask diff --format \
             json`)",
        ),
        (
            "waivers:\n  - kind: unclassified\n    pointer: a/b\n    reason: r\n".to_string(),
            "openapi/released/waivers.yaml:3: waiver 1: pointer: `a/b` is not a JSON pointer \
             into the spec (it starts with `/`)",
        ),
        (
            format!("{entry}    reason: r\n{}    reason: again\n", &entry[9..]),
            "openapi/released/waivers.yaml:5: waiver 2 repeats waiver 1 (the same kind and \
             pointer)",
        ),
        (
            "waiver:\n  - kind: unclassified\n".to_string(),
            "openapi/released/waivers.yaml:1: unknown field `waiver`, expected `waivers`",
        ),
        (
            "waivers: {kind: unclassified}\n".to_string(),
            "openapi/released/waivers.yaml:1: invalid type: map, expected a sequence",
        ),
    ];
    for (text, expected) in cases {
        let error = parse(&text).unwrap_err();
        assert_eq!(format!("{error:#}"), expected, "{text}");
    }
    let error = parse("waivers: [").unwrap_err();
    assert!(
        format!("{error:#}").starts_with("openapi/released/waivers.yaml is not valid YAML: "),
        "{error:#}"
    );
}

fn change(kind: &'static str, class: Class, pointer: &str) -> Change {
    Change {
        kind,
        class,
        old_pointer: None,
        new_pointer: Some(pointer.into()),
        group: Group::Document,
        what: String::new(),
        why: String::new(),
        reached_by: Vec::new(),
        waiver: None,
    }
}

fn waiver(number: usize, kind: &str, pointer: &str, expires: Option<&str>) -> Waiver {
    Waiver {
        number,
        line: None,
        kind: kind.into(),
        pointer: pointer.into(),
        reason: "because".into(),
        expires: expires.map(date),
    }
}

#[test]
fn a_waiver_waives_the_breaking_change_it_names_and_no_other() {
    let mut changes = [
        change("response-enum-value-added", Class::Breaking, "/e/2"),
        change("response-enum-value-added", Class::Breaking, "/e/3"),
        change("unclassified", Class::Breaking, "/e/2"),
    ];
    let waivers = [waiver(1, "response-enum-value-added", "/e/2", None)];
    let notes = apply(&mut changes, &waivers, date("2027-01-01"));
    assert_eq!(notes, []);
    assert_eq!(changes[0].waiver.as_ref(), Some(&waivers[0]));
    assert_eq!(changes[1].waiver, None);
    assert_eq!(changes[2].waiver, None);
}

#[test]
fn a_waiver_that_waives_nothing_is_noted() {
    let mut changes = [
        change("response-enum-value-added", Class::Breaking, "/e/2"),
        change("request-enum-value-added", Class::Compatible, "/r/2"),
    ];
    let waivers = [
        waiver(1, "response-enum-value-added", "/e/2", Some("2027-01-01")),
        waiver(2, "response-enum-value-added", "/e/9", None),
        waiver(3, "request-enum-value-added", "/r/2", None),
    ];
    // The last day holds; the day after, the waiver is expired and waives nothing.
    let notes = apply(&mut changes.clone(), &waivers, date("2027-01-01"));
    assert_eq!(notes.len(), 2);
    let notes = apply(&mut changes, &waivers, date("2027-01-02"));
    assert_eq!(changes[0].waiver, None);
    let seen: Vec<(usize, &str, bool)> = notes
        .iter()
        .map(|note| (note.waiver.number, note.word(), note.is_error()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "expired", true),
            (2, "stale", false),
            (3, "stale", false)
        ]
    );
    let messages: Vec<String> = notes.iter().map(Note::message).collect();
    assert_eq!(
        messages,
        [
            "waiver 1 (response-enum-value-added at /e/2) expired after 2027-01-01: the change \
             it waived is breaking again; renew the waiver with a later date (and a reason that \
             still holds), or remove it and take the major step",
            "waiver 2 (response-enum-value-added at /e/9) matches no change: remove it (a \
             released change needs none)",
            "waiver 3 (request-enum-value-added at /r/2) matches only a compatible change, which \
             needs no waiver: remove it",
        ]
    );
}

#[test]
fn waivers_judge_only_changes_from_the_latest_release() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(crate::release::RELEASED_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    let document = |version: &str| {
        format!("openapi: 3.0.3\ninfo: {{title: t, version: {version}}}\npaths: {{}}\n")
    };
    for version in ["1.0.0", "1.1.0"] {
        std::fs::write(dir.join(format!("{version}.yaml")), document(version)).unwrap();
    }
    let changes = || [change("unclassified", Class::Breaking, "/paths")];
    let latest = leads_spec::parse(&document("1.1.0")).unwrap();
    let older = leads_spec::parse(&document("1.0.0")).unwrap();
    // No file: nothing to apply.
    let mut from_latest = changes();
    assert_eq!(
        apply_waivers(root.path(), &latest, &mut from_latest).unwrap(),
        []
    );
    let text = "waivers:\n  - kind: unclassified\n    pointer: /paths\n    reason: r\n";
    std::fs::write(root.path().join(WAIVERS_PATH), text).unwrap();
    apply_waivers(root.path(), &latest, &mut from_latest).unwrap();
    assert!(from_latest[0].waiver.is_some());
    let mut from_older = changes();
    assert_eq!(
        apply_waivers(root.path(), &older, &mut from_older).unwrap(),
        []
    );
    assert_eq!(from_older[0].waiver, None);
    // Malformed, it is an error whatever is compared.
    std::fs::write(root.path().join(WAIVERS_PATH), "waivers: [1]\n").unwrap();
    assert!(apply_waivers(root.path(), &older, &mut changes()).is_err());
}
