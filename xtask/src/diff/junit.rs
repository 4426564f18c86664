//! `cargo xtask diff --format junit`: the report as JUnit XML, the test report most CI
//! systems display. One test suite for the comparison, one test case per change (class name:
//! its group; name: its kind and pointer): a breaking change fails, a waived one passes with
//! the waiver's reason in its output, and compatible and documentation changes pass. Each
//! waiver that waived nothing is a case of its own: an expired one fails, a stale one is
//! skipped, so that both show.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::change::{Change, Class};
use super::report::{Title, details, line_of, summary};
use super::waivers::{Note, WAIVERS_PATH};

pub fn render(changes: &[Change], title: &Title) -> String {
    // Writing into memory fails only if the writer does; a Vec never does.
    let bytes = write(changes, title).unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// What a test case reports besides passing.
enum Outcome {
    Passed,
    Failed { kind: &'static str, message: String },
    Skipped { message: String },
}

/// One test case: where it is, its outcome, and its text.
struct Case {
    classname: String,
    name: String,
    file: Option<String>,
    line: Option<usize>,
    outcome: Outcome,
    text: String,
}

fn of_change(change: &Change, title: &Title) -> Case {
    let line = line_of(change, title);
    let text = details(change, change.class.name());
    let outcome = if change.class == Class::Breaking && change.waiver.is_none() {
        Outcome::Failed {
            kind: "breaking",
            message: change.what.clone(),
        }
    } else {
        Outcome::Passed
    };
    Case {
        classname: change.group.title(),
        name: format!("{} {}", change.kind, change.pointer()),
        file: title.file.clone(),
        line,
        outcome,
        text,
    }
}

fn of_note(note: &Note) -> Case {
    let message = note.message();
    let outcome = if note.is_error() {
        Outcome::Failed {
            kind: "expired-waiver",
            message: message.clone(),
        }
    } else {
        Outcome::Skipped {
            message: message.clone(),
        }
    };
    Case {
        classname: "waivers".to_string(),
        name: note.waiver.label(),
        file: Some(WAIVERS_PATH.to_string()),
        line: note.waiver.line,
        outcome,
        text: message,
    }
}

/// Only the characters XML 1.0 allows; the writer escapes the markup ones.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect()
}

fn write(changes: &[Change], title: &Title) -> io::Result<Vec<u8>> {
    let mut cases: Vec<Case> = changes
        .iter()
        .map(|change| of_change(change, title))
        .collect();
    cases.extend(title.waiver_notes.iter().map(of_note));
    let failures = cases
        .iter()
        .filter(|case| matches!(case.outcome, Outcome::Failed { .. }))
        .count()
        .to_string();
    let skipped = cases
        .iter()
        .filter(|case| matches!(case.outcome, Outcome::Skipped { .. }))
        .count()
        .to_string();
    let tests = cases.len().to_string();
    let suite = match &title.labels {
        Some((old, new)) => format!("API changes from {old} to {new}"),
        None => "API changes".to_string(),
    };
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", skipped.as_str()),
    ];
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer
        .create_element("testsuites")
        .with_attribute(("name", "cargo xtask diff"))
        .with_attributes(counts)
        .write_inner_content(|writer| {
            writer
                .create_element("testsuite")
                .with_attribute(("name", clean(&suite).as_str()))
                .with_attributes(counts)
                .write_inner_content(|writer| {
                    writer
                        .create_element("properties")
                        .write_inner_content(|writer| {
                            writer
                                .create_element("property")
                                .with_attribute(("name", "summary"))
                                .with_attribute(("value", clean(&summary(changes, title)).as_str()))
                                .write_empty()?;
                            Ok(())
                        })?;
                    for case in &cases {
                        write_case(writer, case)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

fn write_case(writer: &mut Writer<Vec<u8>>, case: &Case) -> io::Result<()> {
    let line = case.line.map(|line| line.to_string());
    let mut element = writer
        .create_element("testcase")
        .with_attribute(("classname", clean(&case.classname).as_str()))
        .with_attribute(("name", clean(&case.name).as_str()));
    if let Some(file) = &case.file {
        element = element.with_attribute(("file", clean(file).as_str()));
        if let Some(line) = &line {
            element = element.with_attribute(("line", line.as_str()));
        }
    }
    let text = clean(&case.text);
    element.write_inner_content(|writer| {
        match &case.outcome {
            Outcome::Passed => {
                writer
                    .create_element("system-out")
                    .write_text_content(BytesText::new(&text))?;
            }
            Outcome::Failed { kind, message } => {
                writer
                    .create_element("failure")
                    .with_attribute(("type", *kind))
                    .with_attribute(("message", clean(message).as_str()))
                    .write_text_content(BytesText::new(&text))?;
            }
            Outcome::Skipped { message } => {
                writer
                    .create_element("skipped")
                    .with_attribute(("message", clean(message).as_str()))
                    .write_empty()?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_characters_xml_allows_are_kept() {
        assert_eq!(clean("a\u{1}b\tc\u{FFFF}\n<&>\"'"), "ab\tc\n<&>\"'");
    }
}
