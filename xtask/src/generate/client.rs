//! The progenitor client: `client/src/generated.rs` from the working spec, and the released
//! clients the contract suite uses, one from each released spec the support policy lists.
//!
//! progenitor writes it as is, bar three changes to typify's types: builders of open objects
//! start empty ([`default_flattened_maps`]), no type refuses unknown fields
//! ([`tolerate_unknown_fields`]), and enums the spec marks extensible accept values they do
//! not know ([`extensible`]). The working client carries a retry policy and sends through
//! `leads_client`'s own `ClientHooks` ([`Sending::WithRetries`]), its constructors unchanged
//! ([`default_inner_value`]); the released ones send as progenitor does.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use leads_spec::pointer::to_openapi;
use leads_spec::schema::keep_unknown_properties;
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle};
use serde_json::Value;
use syn::visit_mut::VisitMut;

use super::{Generated, extensible, render_file};

pub const PATH: &str = "client/src/generated.rs";

/// How the generated `Client` sends its requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sending {
    /// As progenitor does: each request once. The released clients of the contract suite,
    /// which are compiled outside `leads_client` and must show the server's answers as they are.
    Plain,
    /// Through the `ClientHooks` that `leads_client` implements (required, so that a client
    /// without them does not compile), with a `crate::RetryPolicy` as the client's inner value.
    WithRetries,
}

/// The client of `spec_json` (read from `source`), to be written at `path`.
pub fn generate(
    spec_json: &Value,
    path: &'static str,
    source: &str,
    sending: Sending,
) -> Result<Generated> {
    Ok(Generated {
        path,
        contents: render(spec_json, source, sending)?,
    })
}

/// The text of the client of `spec_json` (read from `source`), the header included: for a
/// file whose place is known only at run time (a released client, one per supported version).
pub fn render(spec_json: &Value, source: &str, sending: Sending) -> Result<String> {
    let extensible = extensible::marked(spec_json);
    let mut spec_json = spec_json.clone();
    keep_unknown_properties(&mut spec_json);
    let openapi = to_openapi(&spec_json)
        .context("the spec is not valid OpenAPI 3.0 (run `cargo xtask lint`)")?;
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged);
    if sending == Sending::WithRetries {
        settings
            .with_inner_type(quote::quote!(crate::RetryPolicy))
            .with_hooks(HooksMode::Expected);
    }
    let tokens = Generator::new(&settings)
        .generate_tokens(&openapi)
        .context("progenitor could not generate the client")?;
    let mut file: syn::File =
        syn::parse2(tokens).context("progenitor's client does not parse as Rust")?;
    default_flattened_maps(&mut file);
    tolerate_unknown_fields(&mut file);
    extensible::open_enums(&mut file, &extensible);
    if sending == Sending::WithRetries {
        default_inner_value(&mut file);
    }
    Ok(render_file(&file, source))
}

/// Makes the builder of every open object start with an empty map of extra keys.
///
/// typify turns an object open to unknown keys into a struct with a `#[serde(flatten)]` map
/// (`extra`), which it marks required; so its builder's `Default` starts `extra` as
/// `Err("no value supplied for extra")` and a builder nobody gives extra keys fails to build.
/// Neither typify 0.8 nor progenitor 0.15 has a setting for it: this rewrites those defaults
/// to `Ok(Default::default())`, i.e. no extra keys.
fn default_flattened_maps(file: &mut syn::File) {
    let mut finder = FlattenedMaps::default();
    finder.visit_file_mut(file);
    DefaultToEmpty {
        fields: finder.fields,
    }
    .visit_file_mut(file);
}

/// Removes `#[serde(deny_unknown_fields)]` from every type.
///
/// typify puts it on every object schema with `additionalProperties: false`, which all of the
/// spec's response schemas are (the server sends nothing else). In a client that turns a new
/// response field, a compatible change by the API's versioning policy (`cargo xtask diff`),
/// into a failure to read the answer. A client reads answers tolerantly; what it sends is
/// checked by the server against the spec, so nothing is lost on the request side.
fn tolerate_unknown_fields(file: &mut syn::File) {
    TolerateUnknownFields.visit_file_mut(file);
}

struct TolerateUnknownFields;

impl VisitMut for TolerateUnknownFields {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        item.attrs.retain(|attr| !denies_unknown_fields(attr));
    }

    fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
        item.attrs.retain(|attr| !denies_unknown_fields(attr));
    }
}

/// Whether `attr` is `#[serde(deny_unknown_fields)]` and nothing else.
fn denies_unknown_fields(attr: &syn::Attribute) -> bool {
    if !attr.path().is_ident("serde") {
        return false;
    }
    let mut only_deny = true;
    let mut seen = false;
    let parsed = attr.parse_nested_meta(|meta| {
        seen = true;
        only_deny &= meta.path.is_ident("deny_unknown_fields");
        if meta.input.peek(syn::Token![=]) {
            meta.value()?.parse::<syn::Expr>()?;
        }
        Ok(())
    });
    parsed.is_ok() && seen && only_deny
}

/// Keeps `Client::new(baseurl)` and `Client::new_with_client(baseurl, client)` as they were
/// before the client carried a retry policy, the inner value starting as its `Default`.
///
/// progenitor's `with_inner_type` adds an `inner` parameter to both constructors, which would
/// break every caller of them; progenitor 0.15 has no setting for a default. This removes the
/// parameter, the argument `inner` that `new` passes on, and gives the field
/// `Default::default()`; `leads_client` sets another policy on a built client.
fn default_inner_value(file: &mut syn::File) {
    DefaultInnerValue.visit_file_mut(file);
}

struct DefaultInnerValue;

impl VisitMut for DefaultInnerValue {
    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let is_client =
            matches!(item.self_ty.as_ref(), syn::Type::Path(ty) if ty.path.is_ident("Client"));
        if item.trait_.is_some() || !is_client {
            return;
        }
        for impl_item in &mut item.items {
            if let syn::ImplItem::Fn(function) = impl_item
                && matches!(
                    function.sig.ident.to_string().as_str(),
                    "new" | "new_with_client"
                )
            {
                function.sig.inputs = std::mem::take(&mut function.sig.inputs)
                    .into_iter()
                    .filter(|input| !is_inner(input))
                    .collect();
                InnerArgument.visit_block_mut(&mut function.block);
            }
        }
    }
}

/// Whether a function parameter is `inner: …`.
fn is_inner(input: &syn::FnArg) -> bool {
    matches!(input, syn::FnArg::Typed(typed)
        if matches!(typed.pat.as_ref(), syn::Pat::Ident(pat) if pat.ident == "inner"))
}

/// Whether an expression is the bare path `inner`.
fn is_inner_path(expr: &syn::Expr) -> bool {
    matches!(expr, syn::Expr::Path(path) if path.path.is_ident("inner"))
}

/// In a constructor's body: drops the argument `inner` of calls, and the field `inner` (a
/// shorthand) becomes `inner: Default::default()`.
struct InnerArgument;

impl VisitMut for InnerArgument {
    fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
        call.args = std::mem::take(&mut call.args)
            .into_iter()
            .filter(|arg| !is_inner_path(arg))
            .collect();
        syn::visit_mut::visit_expr_call_mut(self, call);
    }

    fn visit_field_value_mut(&mut self, field: &mut syn::FieldValue) {
        if matches!(&field.member, syn::Member::Named(name) if name == "inner")
            && is_inner_path(&field.expr)
        {
            field.colon_token = Some(Default::default());
            field.expr = syn::parse_quote!(::std::default::Default::default());
        }
    }
}

/// Collects (struct, field) of every field that is a `#[serde(flatten)]` map.
#[derive(Default)]
struct FlattenedMaps {
    fields: BTreeSet<(String, String)>,
}

impl VisitMut for FlattenedMaps {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        for field in &item.fields {
            if let Some(ident) = &field.ident
                && is_flattened(field)
                && is_map(&field.ty)
            {
                self.fields
                    .insert((item.ident.to_string(), ident.to_string()));
            }
        }
    }
}

fn is_flattened(field: &syn::Field) -> bool {
    field.attrs.iter().any(|attr| {
        let mut flatten = false;
        if attr.path().is_ident("serde") {
            // Other serde options are parsed and skipped; only `flatten` matters here.
            let _ = attr.parse_nested_meta(|meta| {
                flatten |= meta.path.is_ident("flatten");
                if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<syn::Expr>()?;
                }
                Ok(())
            });
        }
        flatten
    })
}

fn is_map(ty: &syn::Type) -> bool {
    let syn::Type::Path(path) = ty else {
        return false;
    };
    path.path.segments.last().is_some_and(|segment| {
        matches!(
            segment.ident.to_string().as_str(),
            "Map" | "HashMap" | "BTreeMap"
        )
    })
}

/// In `impl Default for {Struct}` (the builder of the same name), replaces `Err(…)` with
/// `Ok(Default::default())` for the collected fields.
struct DefaultToEmpty {
    fields: BTreeSet<(String, String)>,
}

impl VisitMut for DefaultToEmpty {
    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let is_default = item
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last())
            .is_some_and(|segment| segment.ident == "Default");
        let type_name = match item.self_ty.as_ref() {
            syn::Type::Path(self_ty) => self_ty.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        if let (true, Some(type_name)) = (is_default, type_name) {
            FieldDefaults {
                type_name,
                fields: &self.fields,
            }
            .visit_item_impl_mut(item);
        }
    }
}

/// Rewrites the field values of the `Self { … }` literal in one `Default` impl.
struct FieldDefaults<'a> {
    type_name: String,
    fields: &'a BTreeSet<(String, String)>,
}

impl VisitMut for FieldDefaults<'_> {
    fn visit_field_value_mut(&mut self, field: &mut syn::FieldValue) {
        let syn::Member::Named(name) = &field.member else {
            return;
        };
        let key = (self.type_name.clone(), name.to_string());
        if self.fields.contains(&key) && is_err_call(&field.expr) {
            field.expr = syn::parse_quote!(Ok(Default::default()));
        }
    }
}

fn is_err_call(expr: &syn::Expr) -> bool {
    let syn::Expr::Call(call) = expr else {
        return false;
    };
    matches!(call.func.as_ref(), syn::Expr::Path(path) if path.path.is_ident("Err"))
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::*;

    #[test]
    fn a_flattened_map_defaults_to_empty_in_its_builder() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                pub struct Open {
                    pub name: Option<String>,
                    #[serde(flatten)]
                    pub extra: ::serde_json::Map<String, ::serde_json::Value>,
                }
                pub struct Closed {
                    pub name: String,
                }
                pub mod builder {
                    impl ::std::default::Default for Open {
                        fn default() -> Self {
                            Self {
                                name: Ok(Default::default()),
                                extra: Err("no value supplied for extra".to_string()),
                            }
                        }
                    }
                    impl ::std::default::Default for Closed {
                        fn default() -> Self {
                            Self {
                                name: Err("no value supplied for name".to_string()),
                            }
                        }
                    }
                }
            }
        };
        default_flattened_maps(&mut file);
        let code = file.to_token_stream().to_string();
        assert!(
            code.contains("extra : Ok (Default :: default ())"),
            "{code}"
        );
        // A required field that is not a flattened map stays required.
        assert!(
            code.contains("name : Err (\"no value supplied for name\""),
            "{code}"
        );
    }

    #[test]
    fn the_constructors_start_the_inner_value_as_its_default() {
        let mut file: syn::File = syn::parse_quote! {
            impl Client {
                pub fn new(baseurl: &str, inner: crate::RetryPolicy) -> Self {
                    Self::new_with_client(baseurl, reqwest::Client::new(), inner)
                }
                pub fn new_with_client(
                    baseurl: &str,
                    client: reqwest::Client,
                    inner: crate::RetryPolicy,
                ) -> Self {
                    Self { baseurl: baseurl.to_string(), client, inner }
                }
            }
            impl ClientInfo<crate::RetryPolicy> for Client {
                fn inner(&self) -> &crate::RetryPolicy {
                    &self.inner
                }
            }
        };
        default_inner_value(&mut file);
        let code = file.to_token_stream().to_string();
        assert!(code.contains("fn new (baseurl : & str) -> Self"), "{code}");
        assert!(
            code.contains("Self :: new_with_client (baseurl , reqwest :: Client :: new ())"),
            "{code}"
        );
        assert!(
            code.contains(
                "fn new_with_client (baseurl : & str , client : reqwest :: Client) -> Self"
            ),
            "{code}"
        );
        assert!(
            code.contains("inner : :: std :: default :: Default :: default ()"),
            "{code}"
        );
        // Elsewhere `inner` stays: the policy is read through `ClientInfo::inner`.
        assert!(code.contains("& self . inner"), "{code}");
    }

    #[test]
    fn no_type_refuses_unknown_fields_and_other_serde_options_stay() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                pub struct Closed {
                    pub name: String,
                }
                #[serde(rename_all = "snake_case")]
                pub enum Status {
                    New,
                }
                #[serde(deny_unknown_fields, rename = "X")]
                pub struct Both {}
            }
        };
        tolerate_unknown_fields(&mut file);
        let code = file.to_token_stream().to_string();
        assert_eq!(code.matches("deny_unknown_fields").count(), 1, "{code}");
        assert!(code.contains("rename_all"), "{code}");
        assert!(
            code.contains("# [serde (deny_unknown_fields , rename"),
            "{code}"
        );
    }
}
