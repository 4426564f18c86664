//! Old consumers still work: the client generated from the latest released spec
//! (`leads_contract_tests::released`) drives this server through a lead's whole life. Each
//! answer must decode into the released types, so an enum value or a required field the
//! released client does not know fails here, and every answer is checked against the current
//! spec like any other.

use leads_contract_tests::Env;
use leads_contract_tests::released::types::{LeadCreate, LeadMetadata, LeadStatus, LeadUpdate};
use libtest_mimic::Trial;

use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![scenario(
        "compat::released_client_round_trip",
        released_client_round_trip,
    )]
}

async fn released_client_round_trip() {
    let env = Env::start().await;
    let client = env.released_client();
    let metadata = LeadMetadata::builder()
        .utm_source(Some(env.tag().to_string()))
        .latitude(Some(40.7128))
        .try_into()
        .expect("released metadata");
    let body = LeadCreate::builder()
        .email(env.email("released"))
        .full_name(Some("Old Client".parse().expect("a full name")))
        .metadata(Some(metadata));
    let created = env
        .observe("lead_create", client.lead_create().body(body).send().await)
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    pin!("compat_create", created);
    let id: uuid::Uuid = created.data()["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a lead id");

    let view = env
        .observe("lead_view", client.lead_view().id(id).send().await)
        .await;
    assert_eq!(view.data(), created.data());

    let update = LeadUpdate::builder().status(Some(LeadStatus::Qualified));
    let updated = env
        .observe(
            "lead_update",
            client.lead_update().id(id).body(update).send().await,
        )
        .await;
    assert_eq!(updated.data()["status"], "qualified", "{updated:?}");

    let page = env
        .observe(
            "lead_list",
            client.lead_list().source(env.tag()).send().await,
        )
        .await;
    assert_eq!(page.data()[0]["id"], created.data()["id"], "{page:?}");
    pin!("compat_list", page);

    let missing = env
        .observe(
            "lead_view",
            client.lead_view().id(uuid::Uuid::new_v4()).send().await,
        )
        .await;
    assert_eq!(missing.status, 404, "{missing:?}");
}
