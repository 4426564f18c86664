//! `lead_update`: only what is given changes, notes replace, an empty body is a no-op,
//! metadata is not updatable, every validation rule, 404, 409 and the size limit.

use leads_client::types::LeadUpdate;
use leads_contract_tests::{Env, Exchange};
use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::create::{create, typed};
use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario("update::only_given_fields_change", only_given_fields_change),
        scenario("update::notes_replace_the_array", notes_replace_the_array),
        scenario(
            "update::empty_and_null_change_nothing",
            empty_and_null_change_nothing,
        ),
        scenario("update::validation_rules", validation_rules),
        scenario("update::unknown_lead", unknown_lead),
        scenario("update::email_taken", email_taken),
        scenario("update::body_over_the_limit", body_over_the_limit),
    ]
}

/// A lead of organization A to update, and its id.
async fn a_lead(env: &Env, label: &str) -> (Value, Uuid) {
    let created = create(
        env,
        json!({"email": env.email(label), "full_name": "Pat Doe", "company": "Acme",
               "metadata": {"utmSource": "google"}}),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.data()["id"].as_str().unwrap().parse().unwrap();
    (created.data().clone(), id)
}

async fn update(env: &Env, id: Uuid, body: Value) -> Exchange {
    let body: LeadUpdate = typed(body);
    env.observe(
        "lead_update",
        env.a.client.lead_update().id(id).body(body).send().await,
    )
    .await
}

async fn only_given_fields_change() {
    let env = Env::start().await;
    let (before, id) = a_lead(&env, "partial").await;
    let answer = update(
        &env,
        id,
        json!({"status": "contacted", "assigned_to_id": "user_2aBcD3eFgH", "timezone": "Europe/Paris"}),
    )
    .await;
    assert_eq!(answer.status, 200);
    let after = answer.data();
    for unchanged in [
        "email",
        "full_name",
        "company",
        "metadata",
        "source",
        "created_at",
        "notes",
    ] {
        assert_eq!(after[unchanged], before[unchanged], "{unchanged}");
    }
    assert_eq!(after["status"], "contacted");
    assert_eq!(after["assigned_to_id"], "user_2aBcD3eFgH");
    assert_ne!(
        after["updated_at"], before["updated_at"],
        "updated_at moves"
    );
    pin!("update_only_given_fields_change", answer);

    let read = env
        .observe("lead_view", env.a.client.lead_view().id(id).send().await)
        .await;
    assert_eq!(read.data(), after);
}

async fn notes_replace_the_array() {
    let env = Env::start().await;
    let (_, id) = a_lead(&env, "notes").await;
    let first = json!([
        {"content": "Called, no answer.", "created_at": "2026-01-18T10:15:00Z", "user_id": "user_1"},
        {"content": "Booked a demo.", "created_at": "2026-01-19T09:00:00Z", "channel": "phone"}
    ]);
    let answer = update(&env, id, json!({"notes": first})).await;
    assert_eq!(
        answer.data()["notes"],
        first,
        "extra keys of notes are kept"
    );
    let second = json!([{"content": "Demo done.", "created_at": "2026-01-20T16:30:00Z"}]);
    let answer = update(&env, id, json!({"notes": second})).await;
    assert_eq!(answer.data()["notes"], second, "notes replace, not append");
    pin!("update_notes_replace_the_array", answer);
    let cleared = update(&env, id, json!({"notes": []})).await;
    assert_eq!(cleared.data()["notes"], json!([]));
}

async fn empty_and_null_change_nothing() {
    let env = Env::start().await;
    let (before, id) = a_lead(&env, "noop").await;
    let empty = update(&env, id, json!({})).await;
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.data(),
        &before,
        "an empty body changes nothing, updated_at included"
    );
    pin!("update_empty_body", empty);
    // Raw: the client leaves `None` out of the body, so it cannot send an explicit null.
    let nulls = env
        .raw_json(
            "lead_update",
            Method::PATCH,
            &format!("/v1/leads/{id}"),
            &env.a.key,
            &json!({"full_name": null, "company": null, "status": null}),
        )
        .await;
    assert_eq!(nulls.status, 200);
    assert_eq!(nulls.data(), &before, "null skips a field");
}

async fn validation_rules() {
    let env = Env::start().await;
    let (_, id) = a_lead(&env, "rules").await;
    let client_cases = [
        ("email_format", json!({"email": "nope"}), "email"),
        (
            "timezone_not_iana",
            json!({"timezone": "Europe/Atlantis"}),
            "timezone",
        ),
    ];
    for (name, body, field) in client_cases {
        let answer = update(&env, id, body).await;
        assert_eq!(
            (answer.status, answer.fields()),
            (400, vec![field.to_string()]),
            "{name}"
        );
        pin!(format!("update_invalid_{name}"), answer);
    }
    // Raw: the client's types refuse to send these at all.
    let path = format!("/v1/leads/{id}");
    let raw_cases = [
        ("status_unknown", json!({"status": "won"}), "status"),
        (
            "phone_not_e164",
            json!({"phone": "0044 20 7946 0958"}),
            "phone",
        ),
        (
            "assigned_to_id_pattern",
            json!({"assigned_to_id": "bob"}),
            "assigned_to_id",
        ),
        (
            "note_without_content",
            json!({"notes": [{"created_at": "2026-01-18T10:15:00Z"}]}),
            "notes.0.content",
        ),
        (
            "note_bad_timestamp",
            json!({"notes": [{"content": "x", "created_at": "yesterday"}]}),
            "notes.0.created_at",
        ),
        (
            "metadata_not_updatable",
            json!({"metadata": {"utmSource": "bing"}}),
            "metadata",
        ),
        ("unknown_field", json!({"stage": "won"}), "stage"),
        // The limits: at most 100 notes, 16 KiB each, 64 KiB together.
        ("too_many_notes", json!({"notes": notes(101, 10)}), "notes"),
        (
            "note_too_large",
            // 9,000 two-byte characters: within `content`'s 10,000, over the note's 16 KiB.
            json!({"notes": [{"content": "é".repeat(9_000), "created_at": "2026-01-18T10:15:00Z"}]}),
            "notes.0",
        ),
        (
            "notes_too_large",
            json!({"notes": notes(10, 7000)}),
            "notes",
        ),
    ];
    for (name, body, field) in raw_cases {
        let answer = env
            .raw_json("lead_update", Method::PATCH, &path, &env.a.key, &body)
            .await;
        assert_eq!(
            (answer.status, answer.fields()),
            (400, vec![field.to_string()]),
            "{name}"
        );
        pin!(format!("update_invalid_{name}"), answer);
    }
    // At the limits: 10 notes of 7,000 characters pass alone, but not together; 100 small
    // ones are taken.
    let at_limit = update(&env, id, json!({"notes": notes(100, 500)})).await;
    assert_eq!(at_limit.status, 200);
    // Raw: the client's id is a UUID, so it cannot send another.
    let bad_id = env
        .raw_json(
            "lead_update",
            Method::PATCH,
            "/v1/leads/42",
            &env.a.key,
            &json!({}),
        )
        .await;
    assert_eq!(
        (bad_id.status, bad_id.fields()),
        (400, vec!["id".to_string()])
    );
    pin!("update_invalid_id", bad_id);
}

async fn unknown_lead() {
    let env = Env::start().await;
    let answer = update(&env, Uuid::new_v4(), json!({"status": "lost"})).await;
    assert_eq!(answer.status, 404);
    pin!("update_unknown_lead", answer);
    let view = env
        .observe(
            "lead_view",
            env.a.client.lead_view().id(Uuid::new_v4()).send().await,
        )
        .await;
    assert_eq!(view.status, 404);
    pin!("view_unknown_lead", view);
    // Raw: the client's id is a UUID, so it cannot send another.
    let bad_id = env
        .raw(
            "lead_view",
            Method::GET,
            "/v1/leads/not-a-uuid",
            Some(&env.a.key),
            None,
        )
        .await;
    assert_eq!(
        (bad_id.status, bad_id.fields()),
        (400, vec!["id".to_string()])
    );
    pin!("view_invalid_id", bad_id);
}

async fn email_taken() {
    let env = Env::start().await;
    let (taken, _) = a_lead(&env, "taken").await;
    let (_, id) = a_lead(&env, "taker").await;
    let email = taken["email"].as_str().unwrap().to_uppercase();
    let email = email.replace(&env.tag().to_uppercase(), env.tag());
    let answer = update(&env, id, json!({"email": email})).await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.body["leadId"], taken["id"]);
    pin!("update_email_taken", answer);
    // Changing the case of a lead's own email is no conflict.
    let own = update(&env, id, json!({"email": env.email("TAKER")})).await;
    assert_eq!(own.status, 200);
}

/// `count` notes whose content is `content_chars` long.
fn notes(count: usize, content_chars: usize) -> Vec<Value> {
    let note = json!({"content": "n".repeat(content_chars), "created_at": "2026-01-18T10:15:00Z"});
    std::iter::repeat_n(note, count).collect()
}

async fn body_over_the_limit() {
    let env = Env::start().await;
    let (_, id) = a_lead(&env, "bignotes").await;
    let answer = update(&env, id, json!({"notes": notes(120, 9000)})).await;
    assert_eq!(answer.status, 413);
    pin!("update_body_over_the_limit", answer);
}
