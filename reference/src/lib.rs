//! The API reference page, rendered from the OpenAPI spec: what the server serves at `/docs`
//! and `cargo xtask docs` writes to a file.
//!
//! One self-contained HTML document: inline style, no script, nothing loaded from any host,
//! legible from a phone's width up. It shows the spec's `info` as the introduction (with the
//! servers, the authentication and a table of the error codes its examples show), a
//! navigation list, and one section per operation, anchored by its operationId
//! (`#lead_create`): method and path, summary, description, authentication, parameters and
//! request body fields (nested, with every constraint), each response by status with its
//! headers, schema and examples, a `curl` per request example, and the callbacks it makes
//! the API send (a webhook delivery: its URL expression, headers, body, expected answer),
//! since what arrives at a receiver is part of the contract too. A `oneOf` body shows each
//! alternative as its own schema, and the property that tells them apart. Given the versions
//! the server serves, the introduction also lists them ("Served versions": each with its
//! deprecation and sunset dates, the one the page documents and the newest marked) and says
//! how a request names one.
//!
//! | concern | module |
//! |---|---|
//! | what the page shows, read from the spec | [`page`] |
//! | schemas as rows of fields | [`fields`] |
//! | descriptions: Markdown to safe HTML | [`markdown`] |
//! | `curl` commands | [`curl`] |
//! | the page's text content (its snapshot) | [`text`] |
//!
//! The markup is a [minijinja](https://docs.rs/minijinja) template (`templates/`), compiled
//! into the crate and escaped automatically.

pub mod curl;
pub mod fields;
pub mod markdown;
pub mod page;
pub mod text;

use minijinja::{AutoEscape, Environment};
use serde_json::Value;

pub use page::Page;
pub use text::text;

/// The Content-Security-Policy the page is written for: it loads nothing and runs nothing;
/// only its inline style applies. Whoever serves the page should send it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Why the page could not be rendered (a template error: a bug of this crate, which the
/// tests catch, never of the spec).
#[derive(Debug, thiserror::Error)]
#[error("rendering the reference page: {0:#}")]
pub struct RenderError(#[from] minijinja::Error);

/// A version of the API the server serves, as the reference page lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServedVersion {
    /// The version, as requests name it in their `api-version` header (`4.0.0`): a document's
    /// `info.version`.
    pub version: String,
    /// `YYYY-MM-DD`: from this day the version is deprecated (its answers carry
    /// `Deprecation`); `None` while no deprecation is announced.
    pub deprecated: Option<String>,
    /// `YYYY-MM-DD`: the day the version stops being served (its answers carry `Sunset`);
    /// `None` while no end is announced.
    pub sunset: Option<String>,
}

/// The reference page of the OpenAPI document `spec`, which lists `versions`, the versions
/// the server serves, oldest first and the newest last (the page marks the one `spec`
/// documents, its `info.version`). With no versions the page has no such list.
pub fn render(spec: &Value, versions: &[ServedVersion]) -> Result<String, RenderError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.add_template("page.html", include_str!("../templates/page.html"))?;
    env.add_template("fields.html", include_str!("../templates/fields.html"))?;
    env.add_template("style.css", include_str!("../templates/style.css"))?;
    let page = Page::of(spec, versions);
    Ok(env
        .get_template("page.html")?
        .render(minijinja::value::Serde(&page))?)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn spec() -> Value {
        leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the spec loads")
    }

    /// The versions the workspace's server serves: the releases of its support policy
    /// (`openapi/released/supported.yaml`, which `cargo xtask check` validates) older than
    /// the working spec, oldest first, then the working spec's own.
    fn served(spec: &Value) -> Vec<ServedVersion> {
        let path = leads_spec::workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the spec is found");
        let policy = path.with_file_name("released/supported.yaml");
        let policy = leads_spec::load(&policy).expect("the support policy loads");
        let date =
            |entry: &Value, field: &str| entry.get(field).and_then(Value::as_str).map(String::from);
        let mut versions: Vec<ServedVersion> = policy["supported"]
            .as_array()
            .expect("a list of releases")
            .iter()
            .map(|entry| ServedVersion {
                version: entry["version"].as_str().expect("a version").to_string(),
                deprecated: date(entry, "deprecated"),
                sunset: date(entry, "sunset"),
            })
            .collect();
        versions.sort_by_key(|served| {
            let parts = served.version.split('.').map(|part| part.parse::<u64>());
            parts.collect::<Result<Vec<_>, _>>().expect("x.y.z")
        });
        let working = spec["info"]["version"].as_str().expect("info.version");
        // The policy may list the working spec's own release: it is served once, as the newest.
        versions.retain(|served| served.version != working);
        versions.push(ServedVersion {
            version: working.to_string(),
            ..ServedVersion::default()
        });
        versions
    }

    /// The reference of the workspace's spec, as a reader sees it (with the versions its
    /// server serves): a change of the spec's text, or of the support policy, shows here as
    /// a diff to review (`cargo insta review`).
    #[test]
    fn the_reference_of_the_spec() {
        let spec = spec();
        let html = render(&spec, &served(&spec)).expect("the page renders");
        insta::assert_snapshot!(text(&html));
    }

    fn small_spec(version: &str) -> Value {
        serde_json::json!({
            "openapi": "3.0.3",
            "info": {"title": "T", "version": version},
            "servers": [{"url": "https://api.example.test/"}],
            "paths": {"/a": {"get": {"operationId": "a_view", "summary": "A",
                "responses": {"200": {"description": "ok"}}}}}
        })
    }

    fn two_versions() -> Vec<ServedVersion> {
        vec![
            ServedVersion {
                version: "4.0.0".to_string(),
                deprecated: Some("2027-01-01".to_string()),
                sunset: Some("2027-06-30".to_string()),
            },
            ServedVersion {
                version: "5.0.0".to_string(),
                ..ServedVersion::default()
            },
        ]
    }

    /// The lines of the page's text from the last line `first` (a section's heading, not its
    /// link in the navigation) up to the next line `until`, not included.
    fn section(text: &str, first: &str, until: &str) -> Vec<String> {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines
            .iter()
            .rposition(|line| *line == first)
            .unwrap_or(lines.len());
        lines[start..]
            .iter()
            .take_while(|line| **line != until)
            .map(|line| line.to_string())
            .collect()
    }

    #[test]
    fn the_served_versions_are_listed_with_their_dates() {
        let html = render(&small_spec("4.0.0"), &two_versions()).expect("the page renders");
        let text = text(&html);
        assert_eq!(
            section(&text, "Served versions", "Security schemes"),
            [
                "Served versions",
                "The versions the server serves, oldest first. A request names one in its \
                 api-version header; without it, it is served in the newest, 5.0.0.",
                "Version",
                "Deprecated from",
                "Sunset (no longer served)",
                "4.0.0 this page",
                "2027-01-01",
                "2027-06-30",
                "5.0.0 newest",
                "—",
                "—",
                "The document of a version is at /openapi.yaml (or /openapi.json, or /docs for \
                 its page) with that header:",
                "curl \"https://api.example.test/openapi.yaml\" \\",
                "  -H \"api-version: 5.0.0\"",
            ]
        );
        assert!(html.contains("<a href=\"#served-versions\">Served versions</a>"));
        assert!(html.contains("<h2 id=\"served-versions\">"));
        assert!(html.contains("<tr class=\"documented\"><td><code>4.0.0</code>"));
    }

    #[test]
    fn the_newest_page_shows_how_to_ask_for_an_older_version() {
        let html = render(&small_spec("5.0.0"), &two_versions()).expect("the page renders");
        let text = text(&html);
        let versions = section(&text, "Served versions", "Security schemes");
        assert!(versions.contains(&"4.0.0".to_string()), "{versions:?}");
        assert!(versions.contains(&"5.0.0 newest this page".to_string()));
        assert!(versions.contains(&"  -H \"api-version: 4.0.0\"".to_string()));
    }

    #[test]
    fn without_versions_there_is_no_versions_section() {
        let html = render(&small_spec("5.0.0"), &[]).expect("the page renders");
        assert!(!html.contains("served-versions") && !html.contains("api-version"));
        assert!(!html.contains(".versions"));
        assert!(!text(&html).lines().any(|line| line == "Served versions"));
    }

    #[test]
    fn every_operation_has_its_anchor_and_nothing_is_loaded() {
        let spec = spec();
        let html = render(&spec, &served(&spec)).expect("the page renders");
        for operation in leads_spec::Document::new(&spec).operations() {
            let id = operation.id().expect("an operationId");
            assert!(html.contains(&format!("id=\"{id}\"")), "no section {id}");
            assert!(html.contains(&format!("href=\"#{id}\"")), "no link to {id}");
        }
        for loads in ["<script", "<link", "src=", "@import", "url("] {
            assert!(!html.contains(loads), "the page contains {loads}");
        }
    }

    #[test]
    fn text_in_the_spec_is_escaped() {
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": {"title": "<b>T</b>", "version": "1", "description": "<img src=x>"},
            "paths": {"/a": {"get": {"operationId": "a_view", "summary": "<i>s</i>",
                "responses": {"200": {"description": "ok"}}}}}
        });
        let versions = [ServedVersion {
            version: "<i>1</i>".to_string(),
            deprecated: Some("<b>d</b>".to_string()),
            sunset: None,
        }];
        let html = render(&spec, &versions).expect("the page renders");
        assert!(!html.contains("<b>T</b>") && !html.contains("<i>s</i>"));
        assert!(!html.contains("<i>1</i>") && !html.contains("<b>d</b>"));
        assert!(!html.contains("<img"));
    }
}
