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
//! alternative as its own schema, and the property that tells them apart.
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

/// The reference page of the OpenAPI document `spec`.
pub fn render(spec: &Value) -> Result<String, RenderError> {
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
    let page = Page::of(spec);
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

    /// The reference of the workspace's spec, as a reader sees it: a change of the spec's
    /// text shows here as a diff to review (`cargo insta review`).
    #[test]
    fn the_reference_of_the_spec() {
        let html = render(&spec()).expect("the page renders");
        insta::assert_snapshot!(text(&html));
    }

    #[test]
    fn every_operation_has_its_anchor_and_nothing_is_loaded() {
        let spec = spec();
        let html = render(&spec).expect("the page renders");
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
        let html = render(&spec).expect("the page renders");
        assert!(!html.contains("<b>T</b>") && !html.contains("<i>s</i>"));
        assert!(!html.contains("<img"));
    }
}
