//! The structs of documented success headers: one per distinct set, shared by every
//! operation documenting that set, named by a rule ([`HeaderSet`]), with typed fields.

use anyhow::{Context, Result, bail};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use super::names::{doc_attrs, is_pascal_case, pascal_case, pascal_case_words, snake_case};
use super::operations::{Header, Operation};

/// A distinct set of documented success headers, and the operations that document it.
///
/// Naming rule: every header of a set is a `$ref` to `#/components/headers/{Component}`; the
/// set's struct is named by the longest run of leading PascalCase words that all its
/// component names share, plus `Headers` (`RateLimitLimit`, `RateLimitRemaining` and
/// `RateLimitReset` make `RateLimitHeaders`). When they share none, by the leading words
/// that the operationIds documenting the set share (`lead_view` and `lead_update` make
/// `LeadHeaders`, `lead_create` alone `LeadCreateHeaders`). The generator refuses inline
/// headers, sets whose components and operations both share no leading word, and two
/// different sets that would get the same name.
pub struct HeaderSet {
    pub name: String,
    /// Sorted by wire name, so that the order an operation lists them in does not matter.
    pub headers: Vec<Header>,
    /// The operationIds documenting the set.
    pub operations: Vec<String>,
}

/// The distinct success-header sets of `operations`, in order of first use.
pub fn header_sets(operations: &[Operation]) -> Result<Vec<HeaderSet>> {
    let mut sets: Vec<HeaderSet> = Vec::new();
    for operation in operations.iter().filter(|op| !op.headers.is_empty()) {
        let mut headers = operation.headers.clone();
        headers.sort_by(|a, b| a.name.cmp(&b.name));
        match sets.iter_mut().find(|set| set.headers == headers) {
            Some(set) => set.operations.push(operation.id.clone()),
            None => sets.push(HeaderSet {
                name: String::new(),
                headers,
                operations: vec![operation.id.clone()],
            }),
        }
    }
    for index in 0..sets.len() {
        let set = &sets[index];
        let name = header_set_name(&set.headers, &set.operations)
            .with_context(|| format!("the success headers of `{}`", set.operations.join("`, `")))?;
        if let Some(clash) = sets[..index].iter().find(|earlier| earlier.name == name) {
            bail!(
                "operations `{}` and `{}` document different success headers, which would both \
                 be named `{name}`: document the same headers, or rename the components of one \
                 set",
                clash.operations[0],
                set.operations[0]
            );
        }
        sets[index].name = name;
    }
    Ok(sets)
}

/// The name of the struct of `headers`, documented by `operations`, by the naming rule of
/// [`HeaderSet`].
fn header_set_name(headers: &[Header], operations: &[String]) -> Result<String> {
    for header in headers {
        if !is_pascal_case(&header.component) {
            bail!(
                "header component `{}` is not PascalCase: its name names the headers struct",
                header.component
            );
        }
    }
    let components = shared_leading_words(headers.iter().map(|h| h.component.clone()));
    let prefix = if components.is_empty() {
        shared_leading_words(operations.iter().map(|id| pascal_case(id)))
    } else {
        components
    };
    if prefix.is_empty() {
        let components: Vec<&str> = headers.iter().map(|h| h.component.as_str()).collect();
        bail!(
            "the success header components {components:?} share no leading word, nor do the \
             operations {operations:?}, so their struct has no name: give the components a \
             common prefix (`RateLimitLimit`, `RateLimitRemaining` make `RateLimitHeaders`)"
        );
    }
    Ok(format!("{prefix}Headers"))
}

/// The longest run of leading PascalCase words that all `names` share, concatenated.
fn shared_leading_words(names: impl Iterator<Item = String>) -> String {
    let mut shared: Option<Vec<String>> = None;
    for name in names {
        let words: Vec<String> = pascal_case_words(&name)
            .into_iter()
            .map(String::from)
            .collect();
        shared = Some(match shared {
            None => words,
            Some(shared) => shared
                .into_iter()
                .zip(words)
                .take_while(|(a, b)| a == b)
                .map(|(word, _)| word)
                .collect(),
        });
    }
    shared.unwrap_or_default().concat()
}

/// The struct of one header set. Fields have the types of their schemas; dropshot 0.18
/// serializes header values from strings only, so each is written through its `Display`.
pub fn header_set_struct(set: &HeaderSet) -> Result<TokenStream> {
    let ident = Ident::new(&set.name, Span::call_site());
    let names: Vec<String> = set
        .headers
        .iter()
        .map(|h| format!("`{}`", h.name))
        .collect();
    let users: Vec<String> = set.operations.iter().map(|id| format!("`{id}`")).collect();
    let doc = format!(
        " The success headers {} of {}.",
        names.join(", "),
        users.join(", ")
    );
    let fields = set
        .headers
        .iter()
        .map(|header| {
            let field = format_ident!("{}", snake_case(&header.name));
            let ty = header_type(header)
                .with_context(|| format!("the success headers of {}", users.join(", ")))?;
            let doc = doc_attrs(&header.description);
            let name = &header.name;
            Ok(if header.required {
                quote! {
                    #doc
                    #[serde(rename = #name, serialize_with = "header_value")]
                    pub #field: #ty,
                }
            } else {
                quote! {
                    #doc
                    #[serde(
                        rename = #name,
                        serialize_with = "optional_header_value",
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub #field: Option<#ty>,
                }
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
        pub struct #ident {
            #(#fields)*
        }
    })
}

/// The Rust type of a header's value, from its schema.
fn header_type(header: &Header) -> Result<TokenStream> {
    let kind = header.schema.get("type").and_then(Value::as_str);
    let format = header.schema.get("format").and_then(Value::as_str);
    Ok(match (kind, format) {
        (Some("integer"), Some("int32")) => quote!(i32),
        (Some("integer"), _) => quote!(i64),
        (Some("number"), _) => quote!(f64),
        (Some("boolean"), _) => quote!(bool),
        (Some("string"), _) => quote!(String),
        _ => bail!(
            "header `{}` has schema {}: the generator supports headers of type string, \
             integer, number or boolean",
            header.name,
            header.schema
        ),
    })
}

/// The helpers header fields serialize with, emitted once if any header set exists.
pub fn header_value_helper() -> TokenStream {
    quote! {
        /// Writes a header value as a string: dropshot's header serializer accepts nothing
        /// else, so a typed header field goes through its `Display`.
        fn header_value<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
        where
            T: std::fmt::Display,
            S: serde::Serializer,
        {
            serializer.collect_str(value)
        }

        /// [`header_value`] of a header only some answers carry (never called with `None`,
        /// which is skipped).
        fn optional_header_value<T, S>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
        where
            T: std::fmt::Display,
            S: serde::Serializer,
        {
            match value {
                Some(value) => serializer.collect_str(value),
                None => serializer.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn header(name: &str, component: &str) -> Header {
        Header {
            name: name.into(),
            component: component.into(),
            description: String::new(),
            schema: json!({"type": "integer"}),
            required: true,
        }
    }

    #[test]
    fn a_header_set_is_named_by_the_leading_words_its_components_share() {
        let rate_limit = [
            header("X-RateLimit-Limit", "RateLimitLimit"),
            header("X-RateLimit-Reset", "RateLimitReset"),
        ];
        let ops = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
        assert_eq!(
            header_set_name(&rate_limit, &ops(&["lead_list"])).unwrap(),
            "RateLimitHeaders"
        );
        let single = [header("ETag", "EntityTag")];
        assert_eq!(
            header_set_name(&single, &ops(&["lead_list"])).unwrap(),
            "EntityTagHeaders"
        );
        let unrelated = [header("A", "RateLimitLimit"), header("B", "RequestId")];
        assert_eq!(
            header_set_name(&unrelated, &ops(&["lead_view", "lead_update"])).unwrap(),
            "LeadHeaders",
            "named by the operations' shared words"
        );
        assert_eq!(
            header_set_name(&unrelated, &ops(&["lead_create"])).unwrap(),
            "LeadCreateHeaders"
        );
        let error = header_set_name(&unrelated, &ops(&["lead_view", "health_view"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("share no leading word"), "{error}");
        let snake = [header("A", "rate_limit")];
        assert!(header_set_name(&snake, &ops(&["lead_list"])).is_err());
    }
}
