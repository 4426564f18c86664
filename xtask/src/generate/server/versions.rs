//! Every version the server serves: the working spec, and each release of the support policy
//! older than it. What each release shares with the working spec, and what it needs of its own.
//!
//! - **Wire types.** A release's schema whose shape agrees with the working spec's
//!   ([`Shapes`]) is served with the working spec's type. The others get types of their own,
//!   in the release's module (`v4_0_0::types`), which re-exports the shared ones.
//! - **Operations.** For each version, an operation is *shared* when its contract (method,
//!   path, parameters, body, statuses, success headers and every schema they refer to, bar
//!   documentation and the error envelope, which the server renders per version) agrees
//!   with the working spec's: the working spec's handler serves it. Otherwise the trait asks
//!   for an *adapter* (`{operation}_v4_0_0`), a handler written against that release's
//!   types, which the build demands until it is written.
//! - **Endpoints.** Consecutive versions that share an operation, with the same summary,
//!   description and tags, are one endpoint over their version range; documentation that
//!   differs makes another endpoint calling the same handler.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use leads_spec::Document;
use serde_json::{Map, Value};

use super::dispatch::{Dispatch, Refusal, dispatches, refusals};
use super::headers::{HeaderSet, header_sets};
use super::operations::{Operation, operations};
use super::shapes::Shapes;
use super::types::{collect_refs, component_schemas};

/// A released spec the support policy lists, as the generator reads it.
pub struct Release {
    /// `info.version`, as the release's file is named.
    pub version: String,
    pub spec: Value,
    /// The release's file, relative to the workspace root.
    pub source: String,
    /// From the policy: `YYYY-MM-DD`.
    pub deprecated: Option<String>,
    pub sunset: Option<String>,
}

/// One served version, read from its spec.
pub struct Version<'a> {
    /// `4.0.0`.
    pub number: String,
    /// The spec's file, relative to the workspace root.
    pub source: String,
    pub deprecated: Option<String>,
    pub sunset: Option<String>,
    pub doc: Document<'a>,
    pub operations: Vec<Operation>,
    /// The component schemas and the synthesized parameter schemas, by name.
    pub schemas: Map<String, Value>,
    pub header_sets: Vec<HeaderSet>,
    /// The operations dropshot's router cannot serve on their own paths ([`super::dispatch`]).
    pub dispatches: Vec<Dispatch>,
}

impl<'a> Version<'a> {
    pub fn read(
        spec: &'a Value,
        source: &str,
        deprecated: Option<String>,
        sunset: Option<String>,
    ) -> Result<Self> {
        let doc = Document::new(spec);
        let operations = operations(doc)?;
        let mut schemas = component_schemas(doc);
        for operation in &operations {
            for params in operation.params() {
                schemas.insert(params.type_name.clone(), params.schema.clone());
            }
        }
        let header_sets = header_sets(&operations)?;
        let dispatches = dispatches(&operations)?;
        Ok(Self {
            number: doc.text("/info/version").unwrap_or_default().to_string(),
            source: source.to_string(),
            deprecated,
            sunset,
            doc,
            operations,
            schemas,
            header_sets,
            dispatches,
        })
    }

    /// The name of the version's module: `v4_0_0`.
    pub fn module(&self) -> String {
        format!("v{}", self.number.replace(['.', '-', '+'], "_"))
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// Whether operation `id` is served through another's endpoint in this version.
    pub fn is_dispatched(&self, id: &str) -> bool {
        self.dispatches
            .iter()
            .any(|dispatch| dispatch.operation == id)
    }

    /// The operations the endpoint of operation `id` serves besides it in this version.
    fn dispatched_through(&self, id: &str) -> Vec<Dispatch> {
        self.dispatches
            .iter()
            .filter(|dispatch| dispatch.through == id)
            .cloned()
            .collect()
    }
}

/// Reads the served versions, oldest first, the working spec last. `releases` are those the
/// policy serves besides the working spec (`support::served_besides`), all older than it.
pub fn served<'a>(working: &'a Value, releases: &'a [Release]) -> Result<Vec<Version<'a>>> {
    let newest = Version::read(working, leads_spec::SPEC_PATH, None, None)?;
    let newest_number = semver(&newest.number).context("the working spec's info.version")?;
    let mut served = Vec::new();
    for release in releases {
        let number = semver(&release.version)?;
        if number >= newest_number {
            bail!(
                "release {number} is not older than the working spec's info.version \
                 {newest_number}"
            );
        }
        let version = Version::read(
            &release.spec,
            &release.source,
            release.deprecated.clone(),
            release.sunset.clone(),
        )
        .with_context(|| format!("release {}", release.version))?;
        served.push((number, version));
    }
    served.sort_by(|a, b| a.0.cmp(&b.0));
    let mut served: Vec<Version> = served.into_iter().map(|(_, version)| version).collect();
    served.push(newest);
    Ok(served)
}

fn semver(text: &str) -> Result<semver::Version> {
    semver::Version::parse(text).with_context(|| format!("`{text}` is not a semver version"))
}

/// How one version serves one operation.
#[derive(Clone, PartialEq)]
pub enum Service {
    /// With the working spec's handler and types.
    Shared,
    /// With an adapter of its own, written against its own types.
    Adapted,
}

/// The endpoint of one operation over consecutive served versions.
pub struct Endpoint {
    pub operation: String,
    /// Indexes into the served versions: `first..=last`.
    pub first: usize,
    pub last: usize,
    pub service: Service,
    /// The operations it serves besides its own, in every version of its range.
    pub dispatches: Vec<Dispatch>,
    /// The dispatched literal paths it answers `405` for, in every version of its range.
    pub refusals: Vec<Refusal>,
}

/// Every endpoint: for each operation (the working spec's in its order, then those only
/// releases have), its version ranges. A dispatched operation has none in the versions that
/// dispatch it, and the endpoint that serves it covers only versions that dispatch the same.
pub fn endpoints(served: &[Version]) -> Result<Vec<Endpoint>> {
    let Some(newest) = served.last() else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<&str> = newest.operations.iter().map(|op| op.id.as_str()).collect();
    for version in served {
        for op in &version.operations {
            if !ids.contains(&op.id.as_str()) {
                ids.push(&op.id);
            }
        }
    }
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for id in ids {
        let mut previous: Option<(usize, Service, String)> = None;
        for (index, version) in served.iter().enumerate() {
            let Some(op) = version.operation(id) else {
                previous = None;
                continue;
            };
            let service = service(version, newest, id)?;
            if version.is_dispatched(id) {
                if service != Service::Shared {
                    bail!(
                        "`{id}` is dispatched in version {} (see `dispatch.rs`), whose contract \
                         of it differs from the working spec's: a dispatched operation must be \
                         served by the working spec's handler",
                        version.number
                    );
                }
                previous = None;
                continue;
            }
            let dispatches = version.dispatched_through(id);
            let refusals = refusals(op, &version.operations, &version.dispatches);
            let docs = format!("{}\n{:?}\n{:?}\n{refusals:?}", op.doc, op.tags, dispatches);
            let extends = previous.as_ref().is_some_and(|(last, prior, prior_docs)| {
                *last + 1 == index
                    && service == Service::Shared
                    && *prior == Service::Shared
                    && *prior_docs == docs
            });
            match endpoints.last_mut() {
                Some(endpoint) if extends => endpoint.last = index,
                _ => endpoints.push(Endpoint {
                    operation: id.to_string(),
                    first: index,
                    last: index,
                    service: service.clone(),
                    dispatches,
                    refusals,
                }),
            }
            previous = Some((index, service, docs));
        }
    }
    Ok(endpoints)
}

/// Whether `version` serves operation `id` with the working spec's handler.
fn service(version: &Version, newest: &Version, id: &str) -> Result<Service> {
    if std::ptr::eq(version, newest) {
        return Ok(Service::Shared);
    }
    let (Some(old_op), Some(new_op)) = (version.operation(id), newest.operation(id)) else {
        return Ok(Service::Adapted);
    };
    let old = contract(version.doc, id)?;
    let new = contract(newest.doc, id)?;
    let mut shapes = Shapes::new(&version.schemas, &newest.schemas);
    let same_headers = header_set(version, id).map(|set| &set.headers)
        == header_set(newest, id).map(|set| &set.headers);
    let same = shapes.same(&old, &new)
        && same_headers
        && old_op.raw == new_op.raw
        && old_op
            .params()
            .all(|params| shapes.same_schema(&params.type_name));
    Ok(if same {
        Service::Shared
    } else {
        Service::Adapted
    })
}

/// The success-header set operation `id` documents in `version`.
pub fn header_set<'v>(version: &'v Version, id: &str) -> Option<&'v HeaderSet> {
    version
        .header_sets
        .iter()
        .find(|set| set.operations.iter().any(|op| op == id))
}

/// What a client of operation `id` depends on: the operation with every `$ref` but those to
/// schemas resolved, without what only documents it or what dropshot does not serve
/// (summary, description, tags, `deprecated`, callbacks), nor the headers the server sets on every answer
/// of every version ([`leads_spec::ANSWER_HEADERS`]).
fn contract(doc: Document, id: &str) -> Result<Value> {
    let op = doc
        .operations()
        .into_iter()
        .find(|op| op.id() == Some(id))
        .with_context(|| format!("operation `{id}`"))?;
    let mut value = resolve_all(doc, op.value, 0)?;
    if let Some(object) = value.as_object_mut() {
        for key in [
            "summary",
            "description",
            "tags",
            "deprecated",
            "callbacks",
            "operationId",
        ] {
            object.remove(key);
        }
        if let Some(responses) = object.get_mut("responses").and_then(Value::as_object_mut) {
            for (status, response) in responses.iter_mut() {
                if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
                    headers.retain(|name, _| !leads_spec::is_answer_header(name));
                }
                // Every error is answered by the server's one error type, in the envelope of
                // the version served (`server/src/api/versions.rs`): no adapter renders it.
                if is_error_status(status)
                    && let Some(response) = response.as_object_mut()
                {
                    response.remove("content");
                }
            }
        }
        object.insert("method".into(), Value::String(op.method.to_string()));
        object.insert("path".into(), Value::String(op.path.to_string()));
    }
    Ok(value)
}

/// Whether `status`, a key of an operation's `responses`, is an error's: `4XX`, `404`, or
/// `default`.
fn is_error_status(status: &str) -> bool {
    status == "default" || status.starts_with('4') || status.starts_with('5')
}

/// How deep `$ref`s to parameters, responses, headers and bodies may nest.
const MAX_REF_DEPTH: usize = 16;

/// `value` with every `$ref` resolved but those to component schemas.
fn resolve_all(doc: Document, value: &Value, depth: usize) -> Result<Value> {
    if depth > MAX_REF_DEPTH {
        bail!("`$ref`s nest deeper than {MAX_REF_DEPTH}: a cycle outside the schemas?");
    }
    Ok(match value {
        Value::Object(map) => match map.get("$ref").and_then(Value::as_str) {
            Some(reference) if leads_spec::schema_component(reference).is_none() => {
                let target = doc
                    .lookup(reference)
                    .map_err(|error| anyhow::anyhow!("{error} (run `cargo xtask lint`)"))?;
                resolve_all(doc, target, depth + 1)?
            }
            _ => Value::Object(
                map.iter()
                    .map(|(key, child)| Ok((key.clone(), resolve_all(doc, child, depth)?)))
                    .collect::<Result<_>>()?,
            ),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve_all(doc, item, depth))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

/// The names of the schemas of `version` whose shape differs from the working spec's and that
/// an adapter works with: those that need types of their own. Schemas only error answers
/// refer to (the envelope) are not among them: the server renders each version's envelope.
pub fn own_schemas(version: &Version, newest: &Version) -> Result<Vec<String>> {
    let adapted = adapter_schemas(version)?;
    let mut shapes = Shapes::new(&version.schemas, &newest.schemas);
    Ok(version
        .schemas
        .keys()
        .filter(|name| adapted.contains(*name) && !shapes.same_schema(name))
        .cloned()
        .collect())
}

/// The schemas an operation's contract refers to, directly or through another schema, and
/// its parameters' schemas.
fn adapter_schemas(version: &Version) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    for operation in &version.operations {
        collect_refs(&contract(version.doc, &operation.id)?, &mut found);
        found.extend(operation.params().map(|params| params.type_name.clone()));
    }
    let mut unread: Vec<String> = found.iter().cloned().collect();
    while let Some(name) = unread.pop() {
        let mut referred = BTreeSet::new();
        if let Some(schema) = version.schemas.get(&name) {
            collect_refs(schema, &mut referred);
        }
        for name in referred {
            if found.insert(name.clone()) {
                unread.push(name);
            }
        }
    }
    Ok(found)
}
