//! The HTTP phases, in the order they run, each for the same time at the same concurrency.
//!
//! - [`standard`]: `/health`, create (the ids it answers with feed view), view, the first
//!   list page, the last page of what create wrote (deep), a page filtered by status and
//!   by source, as the organization `bench`, and `/health` again: the baseline at both ends,
//!   so that a machine whose load changed meanwhile shows it;
//! - [`scale`] (`--leads N`): list pages at the start, the middle and the end of the seeded
//!   organization, and first pages filtered by a rare status, a rare source, and both;
//! - [`postgres`] (`--postgres URL`): create, view, the first list page and a filtered one,
//!   on a server on PostgreSQL, named `postgres …`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use super::db;
use super::load::{self, Keep, MakeRequest};
use super::requests::{self, Api, PAGE, list_query};
use super::stats::Summary;

/// Phase names, the keys the ratios are computed from.
pub mod name {
    pub const HEALTH: &str = "health";
    /// `/health` again after the other standard phases: how far the machine drifted.
    pub const HEALTH_AGAIN: &str = "health again";
    pub const CREATE: &str = "create";
    pub const VIEW: &str = "view";
    pub const LIST: &str = "list";
    pub const LIST_DEEP: &str = "list deep";
    pub const LIST_STATUS: &str = "list status";
    pub const LIST_SOURCE: &str = "list source";
    pub const SCALE_FIRST: &str = "scale first";
    pub const SCALE_MIDDLE: &str = "scale middle";
    pub const SCALE_LAST: &str = "scale last";
    pub const SCALE_STATUS: &str = "scale status";
    pub const SCALE_SOURCE: &str = "scale source";
    pub const SCALE_BOTH: &str = "scale status+source";
    pub const SCALE_EMAIL: &str = "scale email";
    pub const SCALE_SYNC_FIRST: &str = "scale sync first";
    pub const SCALE_SYNC_MIDDLE: &str = "scale sync middle";
    pub const POSTGRES_CREATE: &str = "postgres create";
    pub const POSTGRES_VIEW: &str = "postgres view";
    pub const POSTGRES_LIST: &str = "postgres list";
    pub const POSTGRES_LIST_STATUS: &str = "postgres list status";
    pub const METRICS_OFF_CREATE: &str = "metrics off create";
    pub const METRICS_OFF_VIEW: &str = "metrics off view";
    pub const METRICS_ON_CREATE: &str = "metrics on create";
    pub const METRICS_ON_VIEW: &str = "metrics on view";
    pub const METRICS_OFF_AGAIN_CREATE: &str = "metrics off again create";
    pub const METRICS_OFF_AGAIN_VIEW: &str = "metrics off again view";
}

/// One measured phase.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    pub name: String,
    /// The request, as `METHOD path` (one of them, for phases that vary it).
    pub request: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// How every phase loads the server.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub connections: usize,
    pub duration: Duration,
}

/// Runs one phase; returns it and what `keep` kept.
async fn phase(
    api: &Api,
    load: Load,
    name: &str,
    request: String,
    make: MakeRequest,
    keep: Option<Keep>,
) -> Result<(Phase, Vec<String>)> {
    println!(
        "bench: {name:<20} {request} ({} connections, {} s)",
        load.connections,
        load.duration.as_secs()
    );
    let measured = load::run(api.address(), load.connections, load.duration, make, keep)
        .await
        .with_context(|| format!("phase {name}"))?;
    let summary = Summary::new(
        &measured.latencies,
        measured.answers,
        measured.failures,
        measured.elapsed,
    );
    let phase = Phase {
        name: name.to_owned(),
        request,
        summary,
    };
    Ok((phase, measured.kept))
}

/// The create phase alone, named `name` (the webhooks phase's, with subscriptions).
pub async fn create_only(api: &Api, load: Load, name: &str) -> Result<Phase> {
    let create = phase(api, load, name, "POST /v1/leads".into(), api.create(), None);
    Ok(create.await?.0)
}

/// The create phase, then the view phase over the leads it created.
pub async fn create_then_view(
    api: &Api,
    load: Load,
    create_name: &str,
    view_name: &str,
) -> Result<[Phase; 2]> {
    let create = phase(
        api,
        load,
        create_name,
        "POST /v1/leads".into(),
        api.create(),
        Some(requests::created_id),
    );
    let (created, ids) = create.await?;
    let view = phase(
        api,
        load,
        view_name,
        "GET /v1/leads/{id}".into(),
        api.view(Arc::new(ids))?,
        None,
    );
    Ok([created, view.await?.0])
}

/// Runs a list phase on the page `query` names.
async fn list(api: &Api, load: Load, name: &str, query: &str) -> Result<Phase> {
    let request = format!("GET /v1/leads?{query}");
    Ok(phase(api, load, name, request, api.list(query), None)
        .await?
        .0)
}

/// The page `offset` leads into `organization`'s list: its query, checked against the server.
async fn page_at(api: &Api, database: &Path, organization: &str, offset: u64) -> Result<String> {
    let connection = db::open(database)?;
    let position = db::position(&connection, organization, offset)?
        .with_context(|| format!("the list is not {offset} leads long"))?;
    let query = list_query(Some(&requests::cursor(&position)?), &[]);
    api.check_page(&query, &position.first_id).await?;
    Ok(query)
}

/// The standard phases, as the organization `organization` (by id) of `database`.
pub async fn standard(
    api: &Api,
    load: Load,
    database: &Path,
    organization: &str,
) -> Result<Vec<Phase>> {
    let mut phases = Vec::new();
    let health = phase(
        api,
        load,
        name::HEALTH,
        "GET /health".into(),
        api.health(),
        None,
    );
    phases.push(health.await?.0);
    phases.extend(create_then_view(api, load, name::CREATE, name::VIEW).await?);
    phases.push(list(api, load, name::LIST, &list_query(None, &[])).await?);

    let leads = db::count(&db::open(database)?, organization)?;
    let deep = page_at(
        api,
        database,
        organization,
        leads.saturating_sub(PAGE).max(1),
    )
    .await?;
    phases.push(list(api, load, name::LIST_DEEP, &deep).await?);
    let status = list_query(None, &[("status", "new")]);
    phases.push(list(api, load, name::LIST_STATUS, &status).await?);
    let source = list_query(None, &[("source", "referral")]);
    phases.push(list(api, load, name::LIST_SOURCE, &source).await?);
    let again = phase(
        api,
        load,
        name::HEALTH_AGAIN,
        "GET /health".into(),
        api.health(),
        None,
    );
    phases.push(again.await?.0);
    Ok(phases)
}

/// The `--leads` phases, as the seeded organization `organization` (by id) of `database`,
/// which holds `leads` leads.
pub async fn scale(
    api: &Api,
    load: Load,
    database: &Path,
    organization: &str,
    leads: u64,
) -> Result<Vec<Phase>> {
    let mut phases = Vec::new();
    phases.push(list(api, load, name::SCALE_FIRST, &list_query(None, &[])).await?);
    let middle = page_at(api, database, organization, leads / 2).await?;
    phases.push(list(api, load, name::SCALE_MIDDLE, &middle).await?);
    let last = page_at(api, database, organization, leads - PAGE).await?;
    phases.push(list(api, load, name::SCALE_LAST, &last).await?);
    let filtered = [
        (name::SCALE_STATUS, &[("status", "lost")][..]),
        (name::SCALE_SOURCE, &[("source", "referral")][..]),
        (
            name::SCALE_BOTH,
            &[("status", "lost"), ("source", "referral")][..],
        ),
    ];
    for (name, filters) in filtered {
        phases.push(list(api, load, name, &list_query(None, filters)).await?);
    }
    // The lead in the middle of the organization, by its email; the seeder's own address.
    let email = format!("lead{}@seed.example.com", leads / 2);
    phases.push(
        list(
            api,
            load,
            name::SCALE_EMAIL,
            &list_query(None, &[("email", &email)]),
        )
        .await?,
    );
    let sync = [("order", "changed")];
    phases.push(list(api, load, name::SCALE_SYNC_FIRST, &list_query(None, &sync)).await?);
    // Seeded leads changed in the order of their numbers, one change each.
    let middle = requests::change_cursor(leads / 2);
    let sync_middle = list_query(Some(&middle), &sync);
    phases.push(list(api, load, name::SCALE_SYNC_MIDDLE, &sync_middle).await?);
    Ok(phases)
}

/// The `--postgres` phases: the same requests as the standard create, view, list and
/// `status=new` phases, on a server on PostgreSQL.
pub async fn postgres(api: &Api, load: Load) -> Result<Vec<Phase>> {
    let mut phases =
        Vec::from(create_then_view(api, load, name::POSTGRES_CREATE, name::POSTGRES_VIEW).await?);
    phases.push(list(api, load, name::POSTGRES_LIST, &list_query(None, &[])).await?);
    let status = list_query(None, &[("status", "new")]);
    phases.push(list(api, load, name::POSTGRES_LIST_STATUS, &status).await?);
    Ok(phases)
}
