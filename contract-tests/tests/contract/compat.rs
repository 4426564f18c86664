//! Old consumers still work: for every released version the support policy lists, the client
//! generated from that release (`leads_contract_tests::released::v4_0_0`, …) drives this
//! server through a lead's whole life. Each answer must decode into that release's types (so
//! an enum value or a required field the release does not know fails here), must be what
//! that release's own document (`openapi/released/<version>.yaml`) says, and must say it was
//! served in that version (`leads_contract_tests::assert_served_in_version`).
//!
//! The scenario is written once, in `compat_scenarios!`, and instantiated for each version by
//! `released_versions!`, which `cargo xtask generate` writes from the policy: one module per
//! version (`compat::v4_0_0`), whose snapshots are named after it
//! (`contract__compat__v4_0_0__create.snap`).

use libtest_mimic::Trial;

/// A module with the scenario for each `(module, "version")` of `released_versions!`, and
/// `trials()` listing them.
macro_rules! compat_scenarios {
    ($(($module:ident, $version:literal)),* $(,)?) => {
        $(
            mod $module {
                use leads_contract_tests::released::$module::types::{
                    LeadCreate, LeadMetadata, LeadStatus, LeadUpdate,
                };
                use leads_contract_tests::released::$module::{Client, ClientInfo};
                use leads_contract_tests::{Env, Release};

                use crate::pin;

                pub async fn released_client_round_trip() {
                    let release = Release::load($version);
                    assert_eq!(
                        <Client as ClientInfo<()>>::api_version(),
                        release.version(),
                        "the client of {} was generated from another version",
                        release.version()
                    );
                    let env = Env::start().await;
                    let client = env.released_client(Client::new_with_client);
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
                        .observe_released(
                            &release,
                            "lead_create",
                            client.lead_create().body(body).send().await,
                        )
                        .await;
                    assert_eq!(created.status, 201, "{created:?}");
                    pin!("create", created);
                    let id: uuid::Uuid = created.data()["id"]
                        .as_str()
                        .and_then(|id| id.parse().ok())
                        .expect("a lead id");

                    let view = env
                        .observe_released(
                            &release,
                            "lead_view",
                            client.lead_view().id(id).send().await,
                        )
                        .await;
                    assert_eq!(view.data(), created.data());

                    let update = LeadUpdate::builder().status(Some(LeadStatus::Qualified));
                    let updated = env
                        .observe_released(
                            &release,
                            "lead_update",
                            client.lead_update().id(id).body(update).send().await,
                        )
                        .await;
                    assert_eq!(updated.data()["status"], "qualified", "{updated:?}");

                    let page = env
                        .observe_released(
                            &release,
                            "lead_list",
                            client.lead_list().source(env.tag()).send().await,
                        )
                        .await;
                    assert_eq!(page.data()[0]["id"], created.data()["id"], "{page:?}");
                    pin!("list", page);

                    let missing = env
                        .observe_released(
                            &release,
                            "lead_view",
                            client.lead_view().id(uuid::Uuid::new_v4()).send().await,
                        )
                        .await;
                    assert_eq!(missing.status, 404, "{missing:?}");
                }
            }
        )*

        pub fn trials() -> Vec<Trial> {
            vec![$(
                crate::scenario(
                    concat!("compat::", stringify!($module), "::released_client_round_trip"),
                    $module::released_client_round_trip,
                )
            ),*]
        }
    };
}

leads_contract_tests::released_versions!(compat_scenarios);
