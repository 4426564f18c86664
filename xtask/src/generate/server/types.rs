//! The wire types: typify's structs and enums for the component schemas (and the synthesized
//! parameter schemas), and the `JsonSchema`/`SpecSchema` impls that make each wire type
//! render as the spec's own schema.
//!
//! A schema marked `x-raw-json: true` (an open object kept exactly as a client sent it) is
//! not given to typify: its wire type is a newtype of `serde_json::value::RawValue`, so that
//! it goes from the store to the answer as text, in memory proportional to its size.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use leads_spec::schema::{keep_unknown_properties, to_json_schema};
use leads_spec::{Document, schema_component};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use serde_json::{Map, Value};
use typify::{TypeSpace, TypeSpaceSettings};

use super::operations::Operation;

/// The spec's component schemas, by name.
pub fn component_schemas(doc: Document) -> Map<String, Value> {
    doc.components("schemas")
        .into_iter()
        .map(|(name, schema)| (name.to_string(), schema.value.clone()))
        .collect()
}

/// typify's structs and enums for every schema, in one type space so that they can refer to
/// each other; none for the schemas in `shared`, which are in scope already (a release's
/// module re-exports the working spec's types its schemas share).
pub fn wire_types(
    schemas: &Map<String, Value>,
    operations: &[Operation],
    shared: &BTreeSet<String>,
) -> Result<TokenStream> {
    let parameter_types: BTreeSet<&str> = operations
        .iter()
        .flat_map(|op| [&op.path_params, &op.query_params, &op.header_params])
        .flatten()
        .map(|params| params.type_name.as_str())
        .collect();
    let mut definitions = Vec::new();
    for (name, schema) in schemas {
        let mut schema = to_json_schema(schema);
        // Parameters have no room for extra keys (the extractors read only the documented
        // ones); elsewhere `{}` keeps them (typify drops the extra keys of
        // `additionalProperties: true`).
        if !parameter_types.contains(name.as_str()) {
            keep_unknown_properties(&mut schema);
        }
        let schema: schemars::schema::Schema = serde_json::from_value(schema)
            .with_context(|| format!("schema `{name}` is not a JSON Schema"))?;
        definitions.push((name.clone(), schema));
    }
    let raw = raw_json_schemas(schemas);
    let mut settings = TypeSpaceSettings::default();
    settings.with_struct_builder(false);
    // typify refers to a raw schema by its name and generates nothing for it: its type is
    // the newtype below.
    for name in raw.iter().chain(shared) {
        settings.with_replacement(name, name, std::iter::empty());
    }
    let mut type_space = TypeSpace::new(&settings);
    type_space
        .add_ref_types(definitions)
        .context("typify could not generate the wire types")?;
    let mut names: BTreeSet<String> = type_space.iter_types().map(|t| t.name()).collect();
    names.extend(raw.iter().cloned());
    names.extend(shared.iter().cloned());
    if let Some(missing) = schemas.keys().find(|name| !names.contains(*name)) {
        bail!(
            "typify renames schema `{missing}`: component names must be PascalCase, as the \
             generated code names each wire type by its component"
        );
    }
    let typified = type_space.to_stream();
    let raw_types = raw
        .iter()
        .filter(|name| !shared.contains(*name))
        .map(|name| raw_json_type(name));
    Ok(quote! {
        #typified
        #(#raw_types)*
    })
}

/// The schemas marked `x-raw-json: true`: JSON carried as the text it was read from.
pub fn raw_json_schemas(schemas: &Map<String, Value>) -> BTreeSet<String> {
    schemas
        .iter()
        .filter(|(_, schema)| schema.get(RAW_JSON) == Some(&Value::Bool(true)))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The extension that marks a schema as raw JSON.
const RAW_JSON: &str = "x-raw-json";

/// The wire type of a raw schema: its JSON text, never parsed into a tree. Requests are
/// checked against the schema before they are deserialized, so the text always fits it.
fn raw_json_type(name: &str) -> TokenStream {
    let ident = Ident::new(name, Span::call_site());
    let doc = format!(
        "`{name}` as JSON text (`{RAW_JSON}`): validated against its schema on the way in, \
         carried and answered as the text, never parsed into a tree."
    );
    quote! {
        #[doc = #doc]
        #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
        #[serde(transparent)]
        pub struct #ident(pub ::std::boxed::Box<::serde_json::value::RawValue>);
    }
}

/// `JsonSchema` and `SpecSchema` for the wire type of every schema not in `shared`, in
/// module `types` (`types`, `v4_0_0::types`). A type renders the schema of its name in the
/// version being rendered, so a type two versions share shows each one's documentation.
pub fn schema_impls(
    schemas: &Map<String, Value>,
    shared: &BTreeSet<String>,
    types: &TokenStream,
) -> Vec<TokenStream> {
    schemas
        .iter()
        .filter(|(name, _)| !shared.contains(*name))
        .map(|(name, schema)| {
            let ident = Ident::new(name, Span::call_site());
            let mut referenced = BTreeSet::new();
            collect_refs(schema, &mut referenced);
            referenced.remove(name);
            let referenced = referenced
                .iter()
                .map(|name| Ident::new(name, Span::call_site()));
            quote! {
                impl SpecSchema for #types::#ident {
                    const SCHEMA_NAME: &'static str = #name;
                }

                impl schemars::JsonSchema for #types::#ident {
                    fn schema_name() -> String {
                        #name.to_string()
                    }

                    fn json_schema(
                        generator: &mut schemars::r#gen::SchemaGenerator,
                    ) -> schemars::schema::Schema {
                        // Registers the schemas this one refers to with the document.
                        #(let _ = generator.subschema_for::<#types::#referenced>();)*
                        openapi_schema(#name)
                    }
                }
            }
        })
        .collect()
}

/// Adds the name of every component schema `value` refers to, at any depth, to `found`.
pub fn collect_refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(schema_component)
            {
                found.insert(name.to_string());
            }
            map.values().for_each(|child| collect_refs(child, found));
        }
        Value::Array(items) => items.iter().for_each(|child| collect_refs(child, found)),
        _ => {}
    }
}
