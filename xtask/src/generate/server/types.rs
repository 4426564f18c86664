//! The wire types: typify's structs and enums for the component schemas (and the synthesized
//! parameter schemas), and the `JsonSchema`/`SpecSchema` impls that make each wire type
//! render as the spec's own schema.

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
/// each other.
pub fn wire_types(schemas: &Map<String, Value>, operations: &[Operation]) -> Result<TokenStream> {
    let parameter_types: BTreeSet<&str> = operations
        .iter()
        .flat_map(|op| [&op.path_params, &op.query_params])
        .flatten()
        .map(|params| params.type_name.as_str())
        .collect();
    let mut definitions = Vec::new();
    for (name, schema) in schemas {
        let mut schema = to_json_schema(schema);
        // Query strings have no room for extra keys; elsewhere `{}` keeps them (typify drops
        // the extra keys of `additionalProperties: true`).
        if !parameter_types.contains(name.as_str()) {
            keep_unknown_properties(&mut schema);
        }
        let schema: schemars::schema::Schema = serde_json::from_value(schema)
            .with_context(|| format!("schema `{name}` is not a JSON Schema"))?;
        definitions.push((name.clone(), schema));
    }
    let mut settings = TypeSpaceSettings::default();
    settings.with_struct_builder(false);
    let mut type_space = TypeSpace::new(&settings);
    type_space
        .add_ref_types(definitions)
        .context("typify could not generate the wire types")?;
    let names: BTreeSet<String> = type_space.iter_types().map(|t| t.name()).collect();
    if let Some(missing) = schemas.keys().find(|name| !names.contains(*name)) {
        bail!(
            "typify renames schema `{missing}`: component names must be PascalCase, as the \
             generated code names each wire type by its component"
        );
    }
    Ok(type_space.to_stream())
}

/// `JsonSchema` and `SpecSchema` for every schema's wire type.
pub fn schema_impls(schemas: &Map<String, Value>) -> Vec<TokenStream> {
    schemas
        .iter()
        .map(|(name, schema)| {
            let ident = Ident::new(name, Span::call_site());
            let mut referenced = BTreeSet::new();
            collect_refs(schema, &mut referenced);
            referenced.remove(name);
            let referenced = referenced
                .iter()
                .map(|name| Ident::new(name, Span::call_site()));
            quote! {
                impl SpecSchema for types::#ident {
                    const SCHEMA_NAME: &'static str = #name;
                }

                impl schemars::JsonSchema for types::#ident {
                    fn schema_name() -> String {
                        #name.to_string()
                    }

                    fn json_schema(
                        generator: &mut schemars::r#gen::SchemaGenerator,
                    ) -> schemars::schema::Schema {
                        // Registers the schemas this one refers to with the document.
                        #(let _ = generator.subschema_for::<types::#referenced>();)*
                        openapi_schema(#name)
                    }
                }
            }
        })
        .collect()
}

fn collect_refs(value: &Value, found: &mut BTreeSet<String>) {
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
