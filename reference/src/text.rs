//! The text a reader sees on the page, from its HTML: what the snapshot of the page pins, so
//! that a change of the spec's text shows as a readable diff of the reference.
//!
//! It reads the page this crate renders (well-formed, one block per line), not any HTML: tags
//! are dropped, block elements end lines, `<style>` is skipped, `<pre>` keeps its lines as
//! they are, and other lines are trimmed, blank ones dropped.

/// Elements after whose start or end a new line begins.
const BLOCKS: [&str; 26] = [
    "article", "br", "dd", "details", "div", "dl", "dt", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "td", "th", "tr",
];

/// The text content of `html`, one block per line.
pub fn text(html: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut in_pre = false;
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        push_text(&rest[..start], in_pre, &mut line, &mut lines);
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if name == "style" && !closing {
            rest = rest.find("</style>").map_or("", |at| &rest[at..]);
            continue;
        }
        let was_pre = in_pre;
        if name == "pre" {
            in_pre = !closing;
        }
        if BLOCKS.contains(&name.as_str()) {
            end_line(&mut line, was_pre, &mut lines);
        }
    }
    push_text(rest, in_pre, &mut line, &mut lines);
    end_line(&mut line, false, &mut lines);
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Adds text to the current line; inside `<pre>`, its new lines end lines.
fn push_text(text: &str, in_pre: bool, line: &mut String, lines: &mut Vec<String>) {
    let text = decode(text);
    if !in_pre {
        if text.starts_with(char::is_whitespace) && !line.is_empty() && !line.ends_with(' ') {
            line.push(' ');
        }
        line.push_str(&text.split_whitespace().collect::<Vec<_>>().join(" "));
        if text.ends_with(char::is_whitespace) && !line.is_empty() && !line.ends_with(' ') {
            line.push(' ');
        }
        return;
    }
    let mut parts = text.split('\n');
    if let Some(first) = parts.next() {
        line.push_str(first);
    }
    for part in parts {
        lines.push(std::mem::take(line).trim_end().to_string());
        line.push_str(part);
    }
}

fn end_line(line: &mut String, in_pre: bool, lines: &mut Vec<String>) {
    let text = std::mem::take(line);
    let text = if in_pre { text.trim_end() } else { text.trim() };
    if !text.is_empty() {
        lines.push(text.to_string());
    }
}

/// Decodes the entities the renderers write.
fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_lines_and_pre_keeps_its_own() {
        let html = "<html><head><style>p { color: red }</style></head><body>\n  \
                    <h1>Leads &amp; more</h1>\n  <p>Only <code>email</code>\n is required.</p>\
                    <pre>curl \\\n  -d '{}'</pre><p>&lt;end&gt;</p></body></html>";
        assert_eq!(
            text(html),
            "Leads & more\nOnly email is required.\ncurl \\\n  -d '{}'\n<end>\n"
        );
    }
}
