//! Lead versions: the `ETag` of every lead answer, `If-Match` on `lead_update` (`412` on a
//! stale version, nothing changed), `If-None-Match` on `lead_view` (`304`), and the pattern
//! the spec recommends for appending a note.

use leads_client::types::{LeadCreate, LeadUpdate};
use leads_contract_tests::{Env, Exchange};
use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};

use crate::create::typed;
use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario("versions::every_lead_answer_has_its_version", etags),
        scenario("versions::a_stale_if_match_changes_nothing", stale_if_match),
        scenario("versions::if_match_lists_and_stars", if_match_forms),
        scenario("versions::if_none_match_is_answered_304", not_modified),
        scenario("versions::two_editors_append_notes", two_editors),
        scenario(
            "versions::conditions_naming_no_tag_match_nothing",
            conditions_naming_no_tag,
        ),
    ]
}

/// A new lead of organization A; its id.
async fn new_lead(env: &Env, label: &str) -> String {
    let body: LeadCreate = typed(json!({"email": env.email(label)}));
    let created = env
        .observe(
            "lead_create",
            env.a.client.lead_create().body(body).send().await,
        )
        .await;
    assert_eq!(created.status, 201);
    created.data()["id"].as_str().expect("an id").to_string()
}

/// `PATCH /v1/leads/{id}` with `body` and, when given, `If-Match: if_match`.
async fn update(env: &Env, id: &str, if_match: Option<&str>, body: Value) -> Exchange {
    let headers: Vec<(&str, &str)> = if_match
        .map(|tags| ("if-match", tags))
        .into_iter()
        .collect();
    env.raw_with_headers(
        "lead_update",
        Method::PATCH,
        &format!("/v1/leads/{id}"),
        Some(&env.a.key),
        &headers,
        Some(("application/json", body.to_string().into_bytes())),
    )
    .await
}

/// `GET /v1/leads/{id}` with `If-None-Match: if_none_match`, when given.
async fn view(env: &Env, id: &str, if_none_match: Option<&str>) -> Exchange {
    let headers: Vec<(&str, &str)> = if_none_match
        .map(|tags| ("if-none-match", tags))
        .into_iter()
        .collect();
    env.raw_with_headers(
        "lead_view",
        Method::GET,
        &format!("/v1/leads/{id}"),
        Some(&env.a.key),
        &headers,
        None,
    )
    .await
}

async fn etags() {
    let env = Env::start().await;
    let id = new_lead(&env, "versions").await;
    assert_eq!(view(&env, &id, None).await.headers["etag"], "\"1\"");
    let changed = update(&env, &id, None, json!({"status": "contacted"})).await;
    assert_eq!(changed.headers["etag"], "\"2\"");
    let unchanged = update(&env, &id, None, json!({})).await;
    assert_eq!(unchanged.headers["etag"], "\"2\"", "`{{}}` changes nothing");
    let again = update(&env, &id, None, json!({"status": "qualified"})).await;
    assert_eq!(again.headers["etag"], "\"3\"");
    assert_eq!(view(&env, &id, None).await.headers["etag"], "\"3\"");
}

async fn stale_if_match() {
    let env = Env::start().await;
    let id = new_lead(&env, "stale").await;
    let changed = update(&env, &id, Some("\"1\""), json!({"status": "contacted"})).await;
    assert_eq!(changed.status, 200);
    let before = view(&env, &id, None).await;
    let stale = update(&env, &id, Some("\"1\""), json!({"status": "lost"})).await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.body["code"], "PRECONDITION_FAILED");
    pin!("stale_if_match", stale);
    let empty = update(&env, &id, Some("\"1\""), json!({})).await;
    assert_eq!(empty.status, 412, "even an update that changes nothing");
    let after = view(&env, &id, None).await;
    assert_eq!(after.body, before.body, "nothing changed");
    assert_eq!(after.headers["etag"], "\"2\"");
}

async fn if_match_forms() {
    let env = Env::start().await;
    let id = new_lead(&env, "forms").await;
    let star = update(&env, &id, Some("*"), json!({"status": "contacted"})).await;
    assert_eq!(star.status, 200, "`*` matches any version");
    let list = update(&env, &id, Some("\"9\", \"2\""), json!({"company": "Acme"})).await;
    assert_eq!(list.status, 200, "one of the list is current");
    let weak = update(&env, &id, Some("W/\"3\""), json!({"company": "Other"})).await;
    assert_eq!(weak.status, 412, "weak tags never match");
    let typed = env
        .observe(
            "lead_update",
            env.a
                .client
                .lead_update()
                .id(id.parse::<uuid::Uuid>().expect("a UUID"))
                .if_match("\"3\"")
                .body(typed::<LeadUpdate>(json!({"company": "Typed"})))
                .send()
                .await,
        )
        .await;
    assert_eq!(typed.status, 200, "the generated client sends If-Match");
    assert_eq!(typed.headers["etag"], "\"4\"");
}

async fn not_modified() {
    let env = Env::start().await;
    let id = new_lead(&env, "cached").await;
    let cached = view(&env, &id, Some("\"1\"")).await;
    assert_eq!(cached.status, 304);
    assert_eq!(cached.headers["etag"], "\"1\"");
    assert_eq!(cached.bytes.as_deref(), Some(&[][..]), "no body");
    pin!("not_modified", cached);
    assert_eq!(
        view(&env, &id, Some("W/\"1\", \"7\"")).await.status,
        304,
        "weak comparison"
    );
    assert_eq!(view(&env, &id, Some("*")).await.status, 304);
    update(&env, &id, None, json!({"status": "contacted"})).await;
    let stale = view(&env, &id, Some("\"1\"")).await;
    assert_eq!(stale.status, 200, "the lead changed since");
    assert_eq!(stale.headers["etag"], "\"2\"");
}

/// The recommended pattern: GET, append, PATCH with `If-Match`, start again on `412`. Two
/// editors who both read version 1 keep both their notes.
async fn two_editors() {
    let env = Env::start().await;
    let id = new_lead(&env, "editors").await;
    let note = |content: &str| json!({"content": content, "created_at": "2026-01-18T10:15:00Z", "user_id": "user_1"});
    let read = view(&env, &id, None).await;
    let version = read.headers["etag"].to_str().expect("ASCII").to_string();
    let first = update(
        &env,
        &id,
        Some(&version),
        json!({"notes": [note("from A")]}),
    )
    .await;
    assert_eq!(first.status, 200);
    let second = update(
        &env,
        &id,
        Some(&version),
        json!({"notes": [note("from B")]}),
    )
    .await;
    assert_eq!(second.status, 412, "B read the version A changed");
    let reread = view(&env, &id, None).await;
    let mut notes = reread.data()["notes"].as_array().expect("notes").clone();
    notes.push(note("from B"));
    let version = reread.headers["etag"].to_str().expect("ASCII").to_string();
    let retried = update(&env, &id, Some(&version), json!({"notes": notes})).await;
    assert_eq!(retried.status, 200);
    let contents: Vec<&str> = retried.data()["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|note| note["content"].as_str())
        .collect();
    assert_eq!(contents, ["from A", "from B"]);
}

/// A condition that names no entity tag this API issued matches nothing: a stale copy,
/// as far as the server can tell.
async fn conditions_naming_no_tag() {
    let env = Env::start().await;
    let id = new_lead(&env, "no-tag").await;
    let unquoted = update(&env, &id, Some("1"), json!({"status": "contacted"})).await;
    assert_eq!(unquoted.status, 412);
    let unquoted_view = view(&env, &id, Some("1")).await;
    assert_eq!(unquoted_view.status, 200);
}
