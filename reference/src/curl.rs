//! A ready-to-copy `curl` command for an operation, built from its examples.

use serde_json::Value;

/// What a request needs to be written as `curl`.
pub struct Request<'a> {
    pub method: &'a str,
    /// The server's base URL.
    pub base_url: &'a str,
    /// The path with its parameters filled in, and the query string if any.
    pub path: &'a str,
    /// Whether to send the API key (from the environment variable `LEADS_API_KEY`).
    pub authenticated: bool,
    /// Other headers to send, by name and value, after the API key.
    pub headers: &'a [(&'a str, &'a str)],
    /// The JSON body, if any.
    pub body: Option<&'a Value>,
}

/// The command, one option per line, the body indented as the seed page shows it.
pub fn command(request: &Request) -> String {
    let mut lines = Vec::new();
    let url = format!(
        "\"{}{}\"",
        request.base_url.trim_end_matches('/'),
        request.path
    );
    lines.push(match request.method {
        "get" => format!("curl {url}"),
        method => format!("curl -X {} {url}", method.to_uppercase()),
    });
    if request.authenticated {
        lines.push("  -H \"Authorization: Bearer $LEADS_API_KEY\"".to_string());
    }
    for (name, value) in request.headers {
        lines.push(format!("  -H \"{name}: {value}\""));
    }
    if let Some(body) = request.body {
        lines.push("  -H \"Content-Type: application/json\"".to_string());
        let json = serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string());
        let indented = json.replace('\n', "\n  ");
        lines.push(format!("  -d '{}'", indented.replace('\'', "'\\''")));
    }
    lines.join(" \\\n")
}

/// `path` with each `{name}` replaced by the example of the parameter `name`.
pub fn fill_path(path: &str, examples: &[(String, String)]) -> String {
    examples
        .iter()
        .fold(path.to_string(), |path, (name, example)| {
            path.replace(&format!("{{{name}}}"), example)
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_post_with_a_body_reads_like_the_seed_page() {
        let body = json!({"email": "john@example.com", "note": "it's"});
        let command = command(&Request {
            method: "post",
            base_url: "https://api.aura-app.ai/",
            path: "/v1/leads",
            authenticated: true,
            headers: &[],
            body: Some(&body),
        });
        assert_eq!(
            command,
            "curl -X POST \"https://api.aura-app.ai/v1/leads\" \\\n  \
             -H \"Authorization: Bearer $LEADS_API_KEY\" \\\n  \
             -H \"Content-Type: application/json\" \\\n  \
             -d '{\n    \"email\": \"john@example.com\",\n    \"note\": \"it'\\''s\"\n  }'"
        );
    }

    #[test]
    fn a_get_needs_no_method_and_fills_its_path() {
        let path = fill_path("/v1/leads/{id}", &[("id".into(), "550e".into())]);
        let command = command(&Request {
            method: "get",
            base_url: "http://127.0.0.1:8080",
            path: &path,
            authenticated: false,
            headers: &[],
            body: None,
        });
        assert_eq!(command, "curl \"http://127.0.0.1:8080/v1/leads/550e\"");
    }

    #[test]
    fn headers_follow_the_api_key() {
        let command = command(&Request {
            method: "get",
            base_url: "https://api.aura-app.ai",
            path: "/openapi.yaml",
            authenticated: false,
            headers: &[("api-version", "4.0.0")],
            body: None,
        });
        assert_eq!(
            command,
            "curl \"https://api.aura-app.ai/openapi.yaml\" \\\n  -H \"api-version: 4.0.0\""
        );
    }
}
