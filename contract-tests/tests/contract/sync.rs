//! Incremental sync, `lead_list` with `order=changed`: a walk while another client writes
//! sees every change made before it ended, none skipped; it resumes later from its cursor
//! with only what changed since; and a cursor of the other order is refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leads_client::types::{LeadCreate, LeadListOrder, LeadUpdate};
use leads_contract_tests::{Env, Exchange};
use libtest_mimic::Trial;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::create::{create, typed};
use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario(
            "sync::a_walk_while_others_write_skips_no_change",
            a_walk_while_others_write_skips_no_change,
        ),
        scenario(
            "sync::a_walk_resumes_with_only_what_changed_since",
            a_walk_resumes_with_only_what_changed_since,
        ),
        scenario(
            "sync::a_cursor_of_the_other_order_is_refused",
            a_cursor_of_the_other_order_is_refused,
        ),
    ]
}

/// Creates a lead of organization A attributed to this test's tag; its id.
async fn tagged_lead(env: &Env, label: &str) -> Uuid {
    let created = create(
        env,
        json!({"email": env.email(label), "metadata": {"utmSource": env.tag()}}),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    created.data()["id"].as_str().unwrap().parse().unwrap()
}

/// One page of this test's leads in the `changed` order.
async fn changed_page(env: &Env, cursor: Option<&str>, limit: u32) -> Exchange {
    let mut request = env
        .a
        .client
        .lead_list()
        .order(LeadListOrder::Changed)
        .source(env.tag())
        .limit(limit);
    if let Some(cursor) = cursor {
        request = request.cursor(cursor);
    }
    let page = env.observe("lead_list", request.send().await).await;
    assert_eq!(page.status, 200, "{page:?}");
    page
}

fn next_cursor(page: &Exchange) -> String {
    page.body["pagination"]["next_cursor"]
        .as_str()
        .expect("every page of the changed order has a cursor")
        .to_string()
}

/// Each lead on `page`: its id and `updated_at`.
fn states(page: &Exchange) -> Vec<(String, Value)> {
    page.data()
        .as_array()
        .unwrap()
        .iter()
        .map(|lead| {
            (
                lead["id"].as_str().unwrap().to_string(),
                lead["updated_at"].clone(),
            )
        })
        .collect()
}

async fn a_walk_while_others_write_skips_no_change() {
    let env = Env::start().await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(tagged_lead(&env, &format!("sync{n}-")).await);
    }
    // Another client renames the leads, one after the other, and creates more, until told to
    // stop.
    let writing = Arc::new(AtomicBool::new(true));
    let mut writer = Some({
        let (client, writing, ids) = (env.a.client.clone(), Arc::clone(&writing), ids.clone());
        let (tag, email) = (env.tag().to_string(), env.email("written"));
        tokio::spawn(async move {
            let mut writes = 0_usize;
            while writing.load(Ordering::Relaxed) {
                let id = ids[writes % ids.len()];
                let rename: LeadUpdate = typed(json!({"full_name": format!("Renamed {writes}")}));
                client
                    .lead_update()
                    .id(id)
                    .body(rename)
                    .send()
                    .await
                    .expect("an update");
                let new: LeadCreate = typed(json!({
                    "email": email.replace("written", &format!("written{writes}")),
                    "metadata": {"utmSource": tag},
                }));
                client
                    .lead_create()
                    .body(new)
                    .send()
                    .await
                    .expect("a create");
                writes += 1;
            }
            writes
        })
    });
    let mut seen: HashMap<String, Value> = HashMap::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = changed_page(&env, cursor.as_deref(), 4).await;
        seen.extend(states(&page));
        cursor = Some(next_cursor(&page));
        pages += 1;
        if pages == 4 {
            // The writes end here; the walk goes on to its end, which comes after them all.
            writing.store(false, Ordering::Relaxed);
            let writes = writer
                .take()
                .expect("one writer")
                .await
                .expect("the writer");
            assert!(writes > 0, "the walk raced no write");
        }
        if pages > 4 && page.body["pagination"]["has_more"] == false {
            break;
        }
    }
    // Every lead of the test, as its last write left it, was seen.
    let mut every = HashMap::new();
    let mut created_cursor: Option<String> = None;
    loop {
        let mut request = env.a.client.lead_list().source(env.tag()).limit(100);
        if let Some(cursor) = &created_cursor {
            request = request.cursor(cursor.as_str());
        }
        let page = env.observe("lead_list", request.send().await).await;
        every.extend(states(&page));
        match page.body["pagination"]["next_cursor"].as_str() {
            Some(cursor) => created_cursor = Some(cursor.to_string()),
            None => break,
        }
    }
    assert!(every.len() > 12, "leads were created during the walk");
    assert_eq!(seen, every, "the walk saw each lead as last written");
}

async fn a_walk_resumes_with_only_what_changed_since() {
    let env = Env::start().await;
    let first = tagged_lead(&env, "first").await;
    let second = tagged_lead(&env, "second").await;
    let walk = changed_page(&env, None, 10).await;
    assert_eq!(walk.body["pagination"]["has_more"], false);
    pin!("sync_a_first_walk", walk);
    let kept = next_cursor(&walk);

    // Nothing changed: nothing to read, and the same point to resume from.
    let idle = changed_page(&env, Some(&kept), 10).await;
    assert_eq!(idle.data().as_array().map(Vec::len), Some(0));
    assert_eq!(next_cursor(&idle), kept);

    let rename: LeadUpdate = typed(json!({"full_name": "Second, renamed"}));
    let updated = env
        .observe(
            "lead_update",
            env.a
                .client
                .lead_update()
                .id(second)
                .body(rename)
                .send()
                .await,
        )
        .await;
    assert_eq!(updated.status, 200);
    let third = tagged_lead(&env, "third").await;
    let since = changed_page(&env, Some(&kept), 10).await;
    let order: Vec<String> = states(&since).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        order,
        [second.to_string(), third.to_string()],
        "not {first}"
    );
    assert_eq!(since.data()[0]["full_name"], "Second, renamed");
    pin!("sync_resumed", since);
}

/// A page of the list in `order` after `cursor`.
async fn with_cursor(env: &Env, order: LeadListOrder, cursor: &str) -> Exchange {
    let request = env.a.client.lead_list().order(order).cursor(cursor);
    env.observe("lead_list", request.send().await).await
}

async fn a_cursor_of_the_other_order_is_refused() {
    let env = Env::start().await;
    for n in 0..2 {
        tagged_lead(&env, &format!("order{n}-")).await;
    }
    let created_order = env
        .observe(
            "lead_list",
            env.a
                .client
                .lead_list()
                .source(env.tag())
                .limit(1)
                .send()
                .await,
        )
        .await;
    let created_cursor = created_order.body["pagination"]["next_cursor"]
        .as_str()
        .expect("another page")
        .to_string();
    let refused = with_cursor(&env, LeadListOrder::Changed, &created_cursor).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(refused.fields(), ["cursor"]);
    pin!("sync_cursor_of_the_created_order", refused);

    let changed_cursor = next_cursor(&changed_page(&env, None, 1).await);
    let refused = with_cursor(&env, LeadListOrder::Created, &changed_cursor).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    pin!("sync_cursor_of_the_changed_order", refused);
}
