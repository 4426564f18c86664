//! Where a JSON pointer lands in a YAML file: the line of each node, read from the text with
//! yaml-rust2's event parser, so that an annotation (`--format github`, JUnit's `line`) or an
//! error in the waivers file can name the line a reader opens.
//!
//! A mapping value is placed on its key's line, a sequence item on its own first line. A
//! pointer that names nothing in the text (something removed, or inside an alias) lands on
//! its nearest ancestor that is there.

use std::collections::HashMap;

use leads_spec::pointer::escape;
use yaml_rust2::Event;
use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The line (1-based) of every node of one YAML document, by JSON pointer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lines {
    by_pointer: HashMap<String, usize>,
}

impl Lines {
    /// The lines of `text`'s first document; none if it does not parse (the caller then
    /// annotates the whole file).
    pub fn of(text: &str) -> Self {
        let mut recorder = Recorder::default();
        match Parser::new_from_str(text).load(&mut recorder, false) {
            Ok(()) => Lines {
                by_pointer: recorder.lines,
            },
            Err(_) => Lines::default(),
        }
    }

    /// The line `pointer` lands on: its own, or its nearest ancestor's. `None` when not even
    /// its first token is in the document, since line 1 would point at nothing in particular.
    pub fn find(&self, pointer: &str) -> Option<usize> {
        let mut candidate = pointer;
        while !candidate.is_empty() {
            if let Some(line) = self.by_pointer.get(candidate) {
                return Some(*line);
            }
            candidate = candidate.rsplit_once('/').map_or("", |(parent, _)| parent);
        }
        None
    }
}

/// What a node in a mapping is while the parser walks it.
#[derive(Debug)]
enum Key {
    /// The next node is a key.
    Expected,
    /// The next node is the value of this key; `None` for a key that is not a scalar, whose
    /// value no pointer can name.
    Read(Option<String>),
}

#[derive(Debug)]
enum Container {
    Mapping(Key),
    Sequence(usize),
}

/// An open mapping or sequence: its pointer (`None` inside what no pointer names).
#[derive(Debug)]
struct Frame {
    pointer: Option<String>,
    container: Container,
}

#[derive(Debug, Default)]
struct Recorder {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
    started: bool,
}

impl Recorder {
    /// A node starts at `line`: records where its pointer lands and returns that pointer.
    fn node(&mut self, scalar: Option<&str>, line: usize) -> Option<String> {
        let Some(frame) = self.stack.last_mut() else {
            // Only the first document's root is read.
            if self.started {
                return None;
            }
            self.started = true;
            self.lines.insert(String::new(), line);
            return Some(String::new());
        };
        match &mut frame.container {
            Container::Mapping(key @ Key::Expected) => {
                let name = scalar.map(escape);
                if let (Some(parent), Some(name)) = (&frame.pointer, &name) {
                    self.lines.entry(format!("{parent}/{name}")).or_insert(line);
                }
                *key = Key::Read(name);
                // A key is not a node of the document; what follows is its value.
                None
            }
            Container::Mapping(key @ Key::Read(_)) => {
                let Key::Read(name) = std::mem::replace(key, Key::Expected) else {
                    return None;
                };
                frame
                    .pointer
                    .as_ref()
                    .zip(name)
                    .map(|(parent, name)| format!("{parent}/{name}"))
            }
            Container::Sequence(index) => {
                let pointer = frame
                    .pointer
                    .as_ref()
                    .map(|parent| format!("{parent}/{index}"));
                *index += 1;
                if let Some(pointer) = &pointer {
                    self.lines.entry(pointer.clone()).or_insert(line);
                }
                pointer
            }
        }
    }

    /// A mapping or sequence opens: the node it is, then a frame for its children.
    fn open(&mut self, line: usize, container: Container) {
        // A mapping or sequence used as a key gets no pointer: neither do its children.
        let pointer = self.node(None, line);
        self.stack.push(Frame { pointer, container });
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(value, ..) => {
                self.node(Some(&value), line);
            }
            Event::Alias(_) => {
                self.node(None, line);
            }
            Event::MappingStart(..) => self.open(line, Container::Mapping(Key::Expected)),
            Event::SequenceStart(..) => self.open(line, Container::Sequence(0)),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# a comment
openapi: 3.0.3
paths:
  /v1/things/{id}:
    get:
      tags: [things, more]
      description: |
        text: that looks like a key
      parameters:
        - name: id
          in: path
        - $ref: '#/components/parameters/Limit'
components:
  schemas:
    'Thing':
      enum:
      - small
      - large
      example: &spoon
        name: spoon
    Other:
      example: *spoon
      nested: {a: 1, b: [x,
        y]}
";

    #[test]
    fn each_node_lands_on_its_key_or_item_line() {
        let lines = Lines::of(TEXT);
        let cases = [
            ("/openapi", 2),
            ("/paths", 3),
            ("/paths/~1v1~1things~1{id}", 4),
            ("/paths/~1v1~1things~1{id}/get", 5),
            ("/paths/~1v1~1things~1{id}/get/tags/1", 6),
            ("/paths/~1v1~1things~1{id}/get/description", 7),
            ("/paths/~1v1~1things~1{id}/get/parameters/0", 10),
            ("/paths/~1v1~1things~1{id}/get/parameters/0/in", 11),
            ("/paths/~1v1~1things~1{id}/get/parameters/1/$ref", 12),
            ("/components/schemas/Thing", 15),
            ("/components/schemas/Thing/enum", 16),
            ("/components/schemas/Thing/enum/1", 18),
            ("/components/schemas/Thing/example/name", 20),
            ("/components/schemas/Other/example", 22),
            ("/components/schemas/Other/nested/b/1", 24),
        ];
        for (pointer, line) in cases {
            assert_eq!(lines.find(pointer), Some(line), "{pointer}");
        }
    }

    #[test]
    fn a_missing_pointer_lands_on_its_nearest_ancestor() {
        let lines = Lines::of(TEXT);
        assert_eq!(lines.find("/components/schemas/Thing/enum/2"), Some(16));
        assert_eq!(lines.find("/paths/~1v1~1things~1{id}/delete"), Some(4));
        // Through an alias: the alias's line, not its anchor's.
        assert_eq!(
            lines.find("/components/schemas/Other/example/name"),
            Some(22)
        );
        // A key that only looks like one, inside a block scalar, is text.
        assert_eq!(
            lines.find("/paths/~1v1~1things~1{id}/get/description/text"),
            Some(7)
        );
        assert_eq!(lines.find("/servers/0"), None);
        assert_eq!(lines.find(""), None);
    }

    #[test]
    fn text_that_does_not_parse_has_no_lines() {
        assert_eq!(Lines::of("a: [").find("/a"), None);
        assert_eq!(Lines::of("").find("/a"), None);
        // Only the first document counts.
        assert_eq!(Lines::of("a: 1\n---\nb: 2\n").find("/b"), None);
    }
}
