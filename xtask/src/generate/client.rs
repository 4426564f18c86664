//! The progenitor client, `client/src/generated.rs`.

use anyhow::{Context, Result};
use progenitor::{GenerationSettings, Generator, InterfaceStyle, TagStyle};
use serde_json::Value;

use super::{Generated, render};
use crate::schema::keep_unknown_properties;
use crate::spec;

pub const PATH: &str = "client/src/generated.rs";

pub fn generate(spec_json: &Value) -> Result<Generated> {
    let mut spec_json = spec_json.clone();
    keep_unknown_properties(&mut spec_json);
    let openapi = spec::to_openapi(&spec_json)
        .map_err(|(pointer, message)| anyhow::anyhow!("{pointer}: {message}"))
        .context("the spec is not valid OpenAPI 3.0 (run `cargo xtask lint`)")?;
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged);
    let tokens = Generator::new(&settings)
        .generate_tokens(&openapi)
        .context("progenitor could not generate the client")?;
    Ok(Generated {
        path: PATH,
        contents: render(tokens)?,
    })
}
