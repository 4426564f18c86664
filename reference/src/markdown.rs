//! The spec's descriptions (CommonMark with tables) rendered to HTML that is safe to embed.
//!
//! Raw HTML in a description is shown as text, never passed through: the page's markup and
//! its Content-Security-Policy are the renderer's alone. Headings move down by a given number
//! of levels (a description's `##` sits below the page's own headings) and get ids made from
//! a prefix and their text, so that the introduction's sections can be linked.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};
use serde::Serialize;

/// A heading of a rendered description: its id and its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Heading {
    pub id: String,
    pub text: String,
}

/// Rendered Markdown and its headings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub headings: Vec<Heading>,
}

/// Renders `markdown` to HTML: headings moved down `demote` levels (at most `h6`) and given
/// the id `{id_prefix}{slug of their text}`.
pub fn render_with_headings(markdown: &str, demote: usize, id_prefix: &str) -> Rendered {
    let mut events: Vec<Event> = Vec::new();
    let mut headings = Vec::new();
    // The heading being read: its level and its events so far.
    let mut open: Option<(HeadingLevel, Vec<Event>)> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        let event = match event {
            Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
            other => other,
        };
        match event {
            Event::Start(Tag::Heading { level, .. }) => open = Some((level, Vec::new())),
            Event::End(TagEnd::Heading(_)) => {
                let Some((level, inner)) = open.take() else {
                    continue;
                };
                let text = plain_text(&inner);
                let id = format!("{id_prefix}{}", slug(&text));
                let tag = format!("h{}", (level as usize + demote).min(6));
                events.push(Event::Html(CowStr::from(format!(
                    "<{tag} id=\"{}\">",
                    escape(&id)
                ))));
                events.extend(inner);
                events.push(Event::Html(CowStr::from(format!("</{tag}>\n"))));
                headings.push(Heading { id, text });
            }
            other => match &mut open {
                Some((_, inner)) => inner.push(other),
                None => events.push(other),
            },
        }
    }
    let mut out = String::new();
    html::push_html(&mut out, events.into_iter());
    Rendered {
        html: out,
        headings,
    }
}

/// Renders `markdown` to HTML (headings moved down three levels, below an operation's).
pub fn render(markdown: &str) -> String {
    render_with_headings(markdown, 3, "").html
}

/// Renders one line of `markdown` as inline HTML (no enclosing paragraph).
pub fn inline(markdown: &str) -> String {
    let html = render(markdown);
    let trimmed = html.trim_end();
    trimmed
        .strip_prefix("<p>")
        .and_then(|inner| inner.strip_suffix("</p>"))
        .unwrap_or(trimmed)
        .to_string()
}

/// The text of inline events: what a heading says.
fn plain_text(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Text(text) | Event::Code(text) => Some(text.as_ref()),
            _ => None,
        })
        .collect()
}

/// `Rate limits` → `rate-limits`: lowercase ASCII letters and digits, words joined by `-`.
pub fn slug(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html_and_raw_html_becomes_text() {
        assert_eq!(
            render("Only `email` is *required*."),
            "<p>Only <code>email</code> is <em>required</em>.</p>\n"
        );
        assert_eq!(
            render("a <script>alert(1)</script> b"),
            "<p>a &lt;script&gt;alert(1)&lt;/script&gt; b</p>\n"
        );
        assert_eq!(inline("A `b`"), "A <code>b</code>");
        assert!(render("| a | b |\n|---|---|\n| 1 | 2 |\n").contains("<table>"));
    }

    #[test]
    fn headings_move_down_and_get_ids() {
        let rendered = render_with_headings("## Rate limits\n\nText.\n\n## `ETag`s\n", 1, "intro-");
        assert_eq!(
            rendered.html,
            "<h3 id=\"intro-rate-limits\">Rate limits</h3>\n<p>Text.</p>\n\
             <h3 id=\"intro-etags\"><code>ETag</code>s</h3>\n"
        );
        assert_eq!(
            rendered.headings,
            [
                Heading {
                    id: "intro-rate-limits".into(),
                    text: "Rate limits".into()
                },
                Heading {
                    id: "intro-etags".into(),
                    text: "ETags".into()
                }
            ]
        );
    }
}
