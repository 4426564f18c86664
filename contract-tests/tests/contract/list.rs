//! `lead_list`: keyset pagination walked to the end with inserts between pages, every filter,
//! invalid parameters, and the client's `lead_list_all` stream.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use leads_client::LeadFilter;
use leads_client::types::{LeadListSource, LeadStatus};
use leads_contract_tests::{Env, Exchange};
use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::json;

use crate::create::create;
use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario(
            "list::pages_walk_to_the_end_despite_inserts",
            pages_walk_to_the_end_despite_inserts,
        ),
        scenario("list::filters", filters),
        scenario("list::find_by_email", find_by_email),
        scenario("list::invalid_parameters", invalid_parameters),
        scenario("list::stream_of_every_lead", stream_of_every_lead),
    ]
}

/// Creates `count` leads of organization A attributed to this test's tag; their ids, newest
/// first.
async fn tagged_leads(env: &Env, label: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let created = create(
            env,
            json!({"email": env.email(&format!("{label}{n}")), "metadata": {"utmSource": env.tag()}}),
        )
        .await;
        assert_eq!(created.status, 201);
        ids.push(created.data()["id"].as_str().unwrap().to_string());
    }
    ids.reverse();
    ids
}

fn ids(page: &Exchange) -> Vec<String> {
    page.data()
        .as_array()
        .unwrap()
        .iter()
        .map(|lead| lead["id"].as_str().unwrap().to_string())
        .collect()
}

async fn page(env: &Env, cursor: Option<&str>, limit: u32) -> Exchange {
    let mut request = env.a.client.lead_list().source(env.tag()).limit(limit);
    if let Some(cursor) = cursor {
        request = request.cursor(cursor);
    }
    env.observe("lead_list", request.send().await).await
}

async fn pages_walk_to_the_end_despite_inserts() {
    let env = Env::start().await;
    let existing = tagged_leads(&env, "walk", 7).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let answer = page(&env, cursor.as_deref(), 3).await;
        assert_eq!(answer.status, 200);
        if pages == 0 {
            pin!("list_first_page", answer);
        }
        seen.extend(ids(&answer));
        pages += 1;
        // Newer leads arrive while the walk is under way.
        tagged_leads(&env, &format!("late{pages}-"), 2).await;
        let pagination = &answer.body["pagination"];
        match pagination["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(pagination["has_more"], true);
                cursor = Some(next.to_string());
            }
            None => {
                assert_eq!(pagination["has_more"], false);
                pin!("list_last_page", answer);
                break;
            }
        }
        assert!(pages < 10, "the walk does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen, existing,
        "every older lead once, newest first, none of the new ones"
    );
}

async fn filters() {
    let env = Env::start().await;
    let ids = tagged_leads(&env, "filter", 3).await;
    let assignee = format!("user_{}", env.tag());
    let qualified: uuid::Uuid = ids[0].parse().unwrap();
    let update = env
        .a
        .client
        .lead_update()
        .id(qualified)
        .body(
            leads_client::types::LeadUpdate::builder()
                .status(Some(LeadStatus::Qualified))
                .assigned_to_id(Some(assignee.parse().unwrap())),
        )
        .send()
        .await;
    assert_eq!(env.observe("lead_update", update).await.status, 200);

    let by_source = page(&env, None, 100).await;
    assert_eq!(self::ids(&by_source), ids);

    let by_status = env
        .a
        .client
        .lead_list()
        .source(env.tag())
        .status(LeadStatus::Qualified)
        .send()
        .await;
    let by_status = env.observe("lead_list", by_status).await;
    assert_eq!(self::ids(&by_status), [ids[0].clone()]);
    pin!("list_filtered_by_status_and_source", by_status);

    let by_assignee = env
        .a
        .client
        .lead_list()
        .assigned_to_id(assignee.as_str())
        .send()
        .await;
    let by_assignee = env.observe("lead_list", by_assignee).await;
    assert_eq!(self::ids(&by_assignee), [ids[0].clone()]);

    let none = env
        .a
        .client
        .lead_list()
        .source(env.tag())
        .status(LeadStatus::Lost)
        .send()
        .await;
    let none = env.observe("lead_list", none).await;
    assert_eq!(none.data(), &json!([]));
    pin!("list_filtered_to_nothing", none);
}

/// After a create answered `409 CONFLICT`, the `email` filter finds the lead that holds the
/// address, whatever its case; another organization finds none, and the other filters narrow
/// it as they narrow any list.
async fn find_by_email() {
    let env = Env::start().await;
    let email = env.email("Find.Me");
    let created = create(
        &env,
        json!({"email": email, "metadata": {"utmSource": env.tag()}}),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.data()["id"].clone();
    let taken = create(&env, json!({"email": email.to_uppercase()})).await;
    assert_eq!(taken.status, 409, "{taken:?}");

    let found = env
        .observe(
            "lead_list",
            env.a
                .client
                .lead_list()
                .email(email.to_uppercase().as_str())
                .send()
                .await,
        )
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.data().as_array().map(|leads| leads.len()), Some(1));
    assert_eq!(found.data()[0]["id"], id);
    assert_eq!(found.body["pagination"]["has_more"], false);
    pin!("list_found_by_email", found);

    let narrowed = env
        .observe(
            "lead_list",
            env.a
                .client
                .lead_list()
                .email(email.as_str())
                .status(LeadStatus::Qualified)
                .send()
                .await,
        )
        .await;
    assert_eq!(
        narrowed.data(),
        &json!([]),
        "the lead is new, not qualified"
    );
    let elsewhere = env
        .observe(
            "lead_list",
            env.b.client.lead_list().email(email.as_str()).send().await,
        )
        .await;
    assert_eq!(
        elsewhere.data(),
        &json!([]),
        "organization B has no such lead"
    );
}

async fn invalid_parameters() {
    let env = Env::start().await;
    let over = env
        .observe(
            "lead_list",
            env.a.client.lead_list().limit(101u32).send().await,
        )
        .await;
    assert_eq!(
        (over.status, over.fields()),
        (400, vec!["limit".to_string()])
    );
    pin!("list_invalid_limit_over_100", over);

    let cursor = env
        .observe(
            "lead_list",
            env.a.client.lead_list().cursor("not-a-cursor").send().await,
        )
        .await;
    assert_eq!(
        (cursor.status, cursor.fields()),
        (400, vec!["cursor".to_string()])
    );
    pin!("list_invalid_cursor", cursor);

    // Raw: the client's types refuse to send these at all.
    for (name, query, field) in [
        ("limit_zero", "limit=0", "limit"),
        ("limit_not_a_number", "limit=ten", "limit"),
        ("limit_repeated", "limit=5&limit=6", "limit"),
        ("status_unknown", "status=won", "status"),
        (
            "assigned_to_id_pattern",
            "assigned_to_id=bob",
            "assigned_to_id",
        ),
        ("email_not_an_email", "email=not-an-email", "email"),
    ] {
        let answer = env
            .raw(
                "lead_list",
                Method::GET,
                &format!("/v1/leads?{query}"),
                Some(&env.a.key),
                None,
            )
            .await;
        assert_eq!(
            (answer.status, answer.fields()),
            (400, vec![field.to_string()]),
            "{name}"
        );
        pin!(format!("list_invalid_{name}"), answer);
    }
}

async fn stream_of_every_lead() {
    let env = Env::start().await;
    let ids = tagged_leads(&env, "stream", 5).await;
    let filter = LeadFilter {
        source: Some(LeadListSource::try_from(env.tag().to_string()).unwrap()),
        page_size: std::num::NonZeroU32::new(2),
        ..LeadFilter::default()
    };
    let leads: Vec<_> = env
        .a
        .client
        .lead_list_all(filter)
        .try_collect()
        .await
        .unwrap();
    let streamed: Vec<String> = leads.iter().map(|lead| lead.id.to_string()).collect();
    assert_eq!(streamed, ids);
    let unique: BTreeSet<&String> = streamed.iter().collect();
    assert_eq!(unique.len(), streamed.len());
}
