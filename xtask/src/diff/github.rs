//! `cargo xtask diff --format github`: the report as GitHub Actions workflow commands, so that
//! each change shows as an annotation on the line of the spec it is about, in the pull
//! request's files and on the run's page.
//!
//! The levels follow what a reviewer must act on: a breaking change is an `::error`; a waived
//! one a `::warning`, since its reason is a judgment to check; so is a stale waiver, on its
//! line of the waivers file; an expired waiver is an `::error` there. Compatible and
//! documentation changes are `::notice`s, after one notice with the summary. GitHub shows at
//! most 10 annotations of a level per step and drops the rest unseen, so the tenth of a level
//! that has more carries all the others in its message.

use super::change::{Change, Class};
use super::report::{Title, details, line_of, summary, tag};
use super::waivers::{Note, WAIVERS_PATH};

/// Annotations of one level GitHub shows per step.
const PER_LEVEL: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

#[derive(Debug)]
struct Annotation {
    level: Level,
    file: Option<String>,
    line: Option<usize>,
    title: String,
    message: String,
}

impl Annotation {
    /// `::error file=…,line=…,title=…::message`, escaped as the Actions runner reads it.
    fn command(&self) -> String {
        let mut properties = Vec::new();
        if let Some(file) = &self.file {
            properties.push(format!("file={}", property(file)));
            if let Some(line) = self.line {
                properties.push(format!("line={line}"));
            }
        }
        properties.push(format!("title={}", property(&self.title)));
        format!(
            "::{} {}::{}\n",
            self.level.command(),
            properties.join(","),
            data(&self.message)
        )
    }

    /// One line for the annotation that carries the ones over the limit.
    fn brief(&self) -> String {
        let place = match (&self.file, self.line) {
            (Some(file), Some(line)) => format!(" ({file}:{line})"),
            (Some(file), None) => format!(" ({file})"),
            (None, _) => String::new(),
        };
        let first = self.message.lines().next().unwrap_or_default();
        format!("- {}{place}: {first}", self.title)
    }
}

/// Escapes a command's message: `%`, CR and LF (a message may span lines).
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value: as a message, and `:` and `,`, which end a property.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(changes: &[Change], title: &Title) -> String {
    let heading = match &title.labels {
        Some((old, new)) => format!("API changes from {old} to {new}"),
        None => "API changes".to_string(),
    };
    let mut annotations = vec![Annotation {
        level: Level::Notice,
        file: None,
        line: None,
        title: heading,
        message: summary(changes, title),
    }];
    annotations.extend(changes.iter().map(|change| of_change(change, title)));
    annotations.extend(title.waiver_notes.iter().map(of_note));
    capped(annotations)
}

fn of_change(change: &Change, title: &Title) -> Annotation {
    let level = match (&change.waiver, change.class) {
        (Some(_), _) => Level::Warning,
        (None, Class::Breaking) => Level::Error,
        (None, _) => Level::Notice,
    };
    let line = line_of(change, title);
    let message = details(change, &change.group.title());
    Annotation {
        level,
        file: title.file.clone(),
        line,
        title: format!("{}: {}", tag(change), change.kind),
        message,
    }
}

fn of_note(note: &Note) -> Annotation {
    Annotation {
        level: if note.is_error() {
            Level::Error
        } else {
            Level::Warning
        },
        file: Some(WAIVERS_PATH.to_string()),
        line: note.waiver.line,
        title: format!("{} waiver {}", note.word(), note.waiver.number),
        message: note.message(),
    }
}

/// The commands, in order, at most [`PER_LEVEL`] of a level: past that, the last one a level
/// may have lists the rest.
fn capped(annotations: Vec<Annotation>) -> String {
    let count = |level: Level| annotations.iter().filter(|a| a.level == level).count();
    let levels = [Level::Error, Level::Warning, Level::Notice];
    let totals: Vec<(Level, usize)> = levels.iter().map(|&level| (level, count(level))).collect();
    let mut shown = [0; 3];
    let mut rest: [Vec<String>; 3] = Default::default();
    let mut out = String::new();
    for annotation in &annotations {
        let slot = levels
            .iter()
            .position(|&level| level == annotation.level)
            .unwrap_or_default();
        let over = totals[slot].1 > PER_LEVEL;
        if over && shown[slot] >= PER_LEVEL - 1 {
            rest[slot].push(annotation.brief());
            continue;
        }
        shown[slot] += 1;
        out.push_str(&annotation.command());
    }
    for (slot, briefs) in rest.iter().enumerate() {
        if briefs.is_empty() {
            continue;
        }
        let level = levels[slot];
        out.push_str(
            &Annotation {
                level,
                file: None,
                line: None,
                title: format!("{} more ({} shown per step)", briefs.len(), PER_LEVEL),
                message: briefs.join("\n"),
            }
            .command(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped_as_the_runner_reads_them() {
        assert_eq!(data("100% done\r\nnext: a,b"), "100%25 done%0D%0Anext: a,b");
        assert_eq!(property("a: b, 100%\n"), "a%3A b%2C 100%25%0A");
        let annotation = Annotation {
            level: Level::Warning,
            file: Some("openapi/a,b.yaml".into()),
            line: Some(7),
            title: "breaking, waived: kind".into(),
            message: "what\nwhy: because".into(),
        };
        assert_eq!(
            annotation.command(),
            "::warning file=openapi/a%2Cb.yaml,line=7,title=breaking%2C waived%3A kind::what%0Awhy: \
             because\n"
        );
    }

    fn notice(number: usize) -> Annotation {
        Annotation {
            level: Level::Notice,
            file: Some("f.yaml".into()),
            line: Some(number),
            title: format!("n{number}"),
            message: format!("first {number}\nsecond"),
        }
    }

    #[test]
    fn past_ten_of_a_level_the_tenth_lists_the_rest() {
        let mut annotations: Vec<Annotation> = (1..=12).map(notice).collect();
        annotations.insert(
            3,
            Annotation {
                level: Level::Error,
                ..notice(99)
            },
        );
        let out = capped(annotations);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 11, "{out}");
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::notice")).count(),
            10
        );
        assert!(lines[3].starts_with("::error"), "{out}");
        assert_eq!(
            lines[10],
            "::notice title=3 more (10 shown per step)::- n10 (f.yaml%3A10)%3A first 10%0A- n11 \
             (f.yaml%3A11)%3A first 11%0A- n12 (f.yaml%3A12)%3A first 12"
                .replace("%3A", ":")
        );
        // Ten of a level are all shown.
        assert_eq!(capped((1..=10).map(notice).collect()).lines().count(), 10);
    }
}
