//! Create a lead, read it back, and list the organization's leads.
//!
//! Start a server (`cargo run -p leads-server`), then run, with the key it printed:
//!
//! ```text
//! LEADS_API_KEY=aura_pk_live_… cargo run -p leads-client --example quickstart
//! ```
//!
//! `LEADS_BASE_URL` (default `http://127.0.0.1:8080`) points it at another server.

use futures::TryStreamExt;
use leads_client::{Client, LeadFilter, types};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base_url =
        std::env::var("LEADS_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".to_string());
    let api_key = std::env::var("LEADS_API_KEY")
        .map_err(|_| "set LEADS_API_KEY to a key printed by `leads-server`")?;
    let client = Client::with_api_key(&base_url, &api_key)?;

    // A unique address, so that the example can run more than once (emails are unique).
    let email = format!("quickstart+{}@example.com", std::process::id());
    let created = client
        .lead_create()
        .body(
            types::LeadCreate::builder()
                .email(email)
                .full_name(Some("John Doe".parse()?))
                .metadata(Some(
                    types::LeadMetadata::builder()
                        .utm_source(Some("google".to_string()))
                        .try_into()?,
                )),
        )
        .send()
        .await?
        .into_inner()
        .data;
    println!(
        "created {} <{}> with status {}",
        created.id, created.email, created.status
    );

    let read = client
        .lead_view()
        .id(created.id)
        .send()
        .await?
        .into_inner()
        .data;
    println!(
        "read it back: source.utm_source = {:?}",
        read.source.utm_source
    );

    let leads: Vec<types::Lead> = client
        .lead_list_all(LeadFilter::default())
        .try_collect()
        .await?;
    println!("the organization has {} lead(s)", leads.len());
    Ok(())
}
