//! A consumer's integration test: a real Leads server in-process, with a key, instead of a
//! mock. The README's "Testing your integration" shows this file.

use leads_client::Client;
use leads_client::types::{LeadCreate, LeadStatus};
use leads_server::testing::TestServer;

#[tokio::test]
async fn a_new_lead_starts_as_new() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;
    let client = Client::with_api_key(server.base_url(), server.api_key())?;

    let lead = client
        .lead_create()
        .body(LeadCreate::builder().email("john@example.com"))
        .send()
        .await?
        .into_inner()
        .data;
    assert_eq!(lead.status, LeadStatus::New);
    Ok(())
}

#[tokio::test]
async fn another_organization_sees_none_of_our_leads() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;
    let ours = Client::with_api_key(server.base_url(), server.api_key())?;
    let theirs = Client::with_api_key(server.base_url(), &server.create_key("other").await?)?;

    ours.lead_create()
        .body(LeadCreate::builder().email("john@example.com"))
        .send()
        .await?;
    let page = theirs.lead_list().send().await?.into_inner();
    assert!(page.data.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_storage_failure_is_an_internal_error() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;
    let client = Client::with_api_key(server.base_url(), server.api_key())?;

    server.fail_storage(true);
    let error = client
        .lead_list()
        .send()
        .await
        .expect_err("the server cannot read its database");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(500));
    Ok(())
}
