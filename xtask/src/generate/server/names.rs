//! Names and text in generated code: Rust identifiers from spec names, doc attributes, raw
//! string literals.

use anyhow::{Result, anyhow};
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

/// One `#[doc]` attribute per line, so that they render as `///` comments.
pub fn doc_attrs(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| {
        let line = if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote!(#[doc = #line])
    });
    quote!(#(#lines)*)
}

/// A JSON value as a pretty-printed raw string literal.
pub fn raw_json(value: &Value) -> Result<TokenStream> {
    let text = serde_json::to_string_pretty(value)?;
    // Enough `#`s that the text cannot close the literal early.
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    let literal = format!("r{hashes}\"{text}\"{hashes}");
    literal
        .parse()
        .map_err(|error| anyhow!("cannot quote the schemas as a string literal: {error}"))
}

pub fn pascal_case(text: &str) -> String {
    text.split(['_', '-'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// Whether `name` is an ASCII PascalCase identifier.
pub fn is_pascal_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `RateLimitLimit` → `["Rate", "Limit", "Limit"]`: a word starts at each capital.
pub fn pascal_case_words(name: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = name
        .char_indices()
        .filter(|(_, c)| c.is_ascii_uppercase())
        .map(|(index, _)| index)
        .collect();
    starts.push(name.len());
    starts
        .windows(2)
        .map(|pair| &name[pair[0]..pair[1]])
        .collect()
}

pub fn snake_case(text: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if c == '-' || c == '_' {
            out.push('_');
            previous_lower = false;
        } else if c.is_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            previous_lower = false;
        } else {
            out.push(c);
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_converted() {
        assert_eq!(pascal_case("lead_list"), "LeadList");
        assert_eq!(snake_case("X-RateLimit-Limit"), "x_rate_limit_limit");
        assert_eq!(snake_case("Retry-After"), "retry_after");
    }

    #[test]
    fn pascal_case_words_split_at_capitals() {
        assert_eq!(
            pascal_case_words("RateLimitLimit"),
            ["Rate", "Limit", "Limit"]
        );
        assert_eq!(pascal_case_words("Http2Proxy"), ["Http2", "Proxy"]);
    }

    #[test]
    fn raw_json_survives_quotes_and_hashes() {
        let value = json!({"$ref": "#/a", "x": "\"#"});
        let tokens = raw_json(&value).unwrap();
        let literal: syn::LitStr = syn::parse2(tokens).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&literal.value()).unwrap(),
            value
        );
    }
}
