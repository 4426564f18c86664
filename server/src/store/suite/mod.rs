//! The [`Store`] contract as tests that any backend must pass: round trips, tenancy, email
//! uniqueness, updates, versions and conditional updates, idempotent answers, list order,
//! limits, keyset paging and filters, the `changed` order of sync, API keys, organizations, webhooks (subscriptions, the
//! outbox, claims and attempts, fair claims and bounded backlogs, sealed secrets) and
//! concurrent use.
//!
//! A backend runs them all by invoking [`store_suite!`] with a factory of fresh, empty
//! stores, as `sqlite` and `postgres` do; what only one backend has (files, migrations, SQL) is tested in
//! that backend's own module. The fixtures here ([`lead`], [`full_lead`], …) serve those tests
//! too.

// Visible to the backends, where `store_suite!` expands.
pub(super) mod idempotency;
pub(super) mod leads;
pub(super) mod list;
pub(super) mod organizations;
pub(super) mod sync;
pub(super) mod versions;
pub(super) mod webhooks;

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::domain::{JsonObject, Lead, LeadFilter, LeadSource, LeadStatus, OrganizationId};

/// Declares one `#[tokio::test]` per test of the suite, each on a store of its own from
/// `$factory`, an `async fn() -> Subject`, and each with the attributes given after it: a
/// backend that needs a server the environment may not give marks its tests ignored without
/// one (`#[cfg_attr(not(…), ignore = "…")]`), so that they are never counted as passed.
///
/// Every test of the suite's modules must be listed here: one left out is dead code, which
/// the lint gate refuses, and a name with no test does not compile.
macro_rules! store_suite {
    ($factory:path $(, #[$attribute:meta])* $(,)?) => {
        $crate::store::suite::store_suite!(@tests $factory; [$(#[$attribute])*];
            leads::insert_then_get_round_trips_every_field,
            leads::insert_then_get_round_trips_absent_fields,
            leads::every_status_round_trips,
            leads::get_of_an_unknown_lead_is_none,
            leads::another_organizations_lead_is_invisible,
            leads::an_email_is_taken_case_insensitively_within_an_organization,
            leads::a_duplicate_id_is_not_mistaken_for_a_taken_email,
            leads::an_update_changes_only_the_given_fields,
            leads::an_update_can_set_every_changeable_field,
            leads::an_update_replaces_every_note,
            leads::an_empty_update_leaves_the_lead_untouched,
            leads::an_update_of_an_unknown_lead_is_none,
            leads::an_update_to_a_taken_email_fails_and_changes_nothing,
            leads::a_lead_may_change_the_case_of_its_own_email,
            leads::an_old_email_is_free_once_changed,
            leads::concurrent_reads_and_writes_all_complete(
                flavor = "multi_thread",
                worker_threads = 4
            ),
            list::the_list_is_newest_first_with_ties_broken_by_id_descending,
            list::the_list_stops_at_the_limit,
            list::a_page_starts_strictly_after_its_keyset,
            list::walking_the_pages_returns_every_lead_once_despite_inserts_between_pages,
            list::the_list_filters_by_status_utm_source_and_assignee,
            list::the_email_filter_finds_the_holder_in_any_case_within_the_organization,
            sync::the_changed_order_is_the_order_of_writes,
            sync::a_walk_resumes_after_its_last_change_and_misses_none,
            sync::changes_are_the_organization_s_own_and_filtered,
            organizations::api_keys_are_found_by_hash,
            organizations::an_api_key_of_an_unknown_organization_is_refused,
            organizations::a_new_database_is_empty_until_an_organization_exists,
            organizations::organization_ensure_is_idempotent,
            organizations::organizations_are_found_by_name,
            organizations::api_keys_are_listed_touched_and_revoked,
            organizations::a_key_found_then_revoked_is_not_found_from_the_next_lookup,
            versions::a_new_lead_is_at_version_1,
            versions::each_changing_update_adds_one_to_the_version,
            versions::any_admits_every_version,
            versions::a_condition_the_version_meets_lets_the_update_through,
            versions::a_condition_the_version_fails_changes_nothing,
            versions::a_condition_on_a_missing_lead_is_none,
            versions::of_concurrent_updates_on_one_version_only_one_succeeds(
                flavor = "multi_thread",
                worker_threads = 4
            ),
            idempotency::an_insert_with_an_answer_stores_both,
            idempotency::an_insert_whose_email_is_taken_stores_no_answer,
            idempotency::an_insert_under_a_taken_key_fails_and_stores_no_lead,
            idempotency::an_expired_answer_is_replaced,
            idempotency::an_answer_is_found_until_it_expires,
            idempotency::an_answer_is_found_only_in_its_organization,
            idempotency::the_same_key_in_two_organizations_is_two_answers,
            idempotency::a_sweep_deletes_only_the_expired_and_counts_them,
            idempotency::an_answer_of_another_organization_than_its_lead_is_refused,
            webhooks::subscriptions_round_trip_and_are_listed_newest_first,
            webhooks::a_deleted_lead_is_gone_and_its_email_free,
            webhooks::a_delete_erases_the_leads_events_and_kept_answers_only,
            webhooks::a_delete_honours_the_version_condition,
            webhooks::another_organizations_subscriptions_and_deliveries_are_invisible,
            webhooks::an_organization_has_at_most_the_limit_of_subscriptions,
            webhooks::deleting_a_subscription_deletes_its_deliveries,
            webhooks::a_created_lead_is_delivered_once_to_each_subscriber,
            webhooks::the_trace_of_the_writing_request_goes_with_its_deliveries,
            webhooks::no_delivery_is_stored_without_an_active_subscriber,
            webhooks::a_write_that_fails_stores_no_delivery,
            webhooks::an_update_is_delivered_to_the_subscribers_of_its_events,
            webhooks::the_deliveries_log_is_newest_first_and_filtered_by_subscription,
            webhooks::a_claimed_delivery_is_leased_until_its_lease_runs_out,
            webhooks::a_claim_takes_due_deliveries_oldest_first_up_to_its_limit,
            webhooks::an_attempt_moves_its_delivery_as_its_outcome_says,
            webhooks::failed_deliveries_in_a_row_disable_their_subscription,
            webhooks::the_next_due_time_is_the_earliest_unleased_one,
            webhooks::a_round_records_its_attempts_then_claims_in_their_places,
            webhooks::a_sweep_deletes_only_old_finished_deliveries,
            webhooks::a_claim_takes_turns_within_each_share_in_flight,
            webhooks::a_backlog_beyond_its_bound_fails_the_earliest_due,
            webhooks::secrets_are_sampled_listed_by_key_and_replaced_only_if_unchanged,
            webhooks::a_disabled_subscription_is_enabled_again_keeping_its_secret,
            webhooks::a_rotated_secret_signs_beside_the_new_one_until_it_expires,
            webhooks::previous_secrets_are_sampled_listed_and_replaced_in_their_slot,
            webhooks::every_attempt_of_a_delivery_is_kept_newest_first_and_bounded,
            webhooks::a_resent_delivery_is_sent_again_from_the_start_of_the_schedule,
            webhooks::a_recovery_resends_the_failed_deliveries_since_a_time,
            webhooks::a_test_event_is_queued_to_its_subscription_alone,
            webhooks::a_large_body_is_sent_and_resent_as_rendered,
            webhooks::concurrent_claims_never_hand_out_a_delivery_twice(
                flavor = "multi_thread",
                worker_threads = 4
            ),
            webhooks::concurrent_subscriptions_never_exceed_the_limit(
                flavor = "multi_thread",
                worker_threads = 4
            ),
            webhooks::a_subscription_deleted_while_leads_change_leaves_no_delivery(
                flavor = "multi_thread",
                worker_threads = 4
            ),
        );
    };
    // `$attributes` is one token tree, `[#[…] …]`, so that it can be repeated for each test.
    (@tests $factory:path; $attributes:tt;
        $($module:ident::$test:ident $(($($runtime:tt)*))?,)+) => {
        $(
            $crate::store::suite::store_suite!(@test $factory; $attributes;
                $module::$test $(($($runtime)*))?);
        )+
    };
    (@test $factory:path; [$(#[$attribute:meta])*];
        $module:ident::$test:ident $(($($runtime:tt)*))?) => {
        $(#[$attribute])*
        #[tokio::test $(($($runtime)*))?]
        async fn $test() {
            let subject: $crate::store::suite::Subject = $factory().await;
            $crate::store::suite::$module::$test(::std::sync::Arc::clone(&subject.store)).await;
        }
    };
}

pub(crate) use store_suite;

/// A fresh, empty store under test, and what must outlive it.
pub(crate) struct Subject {
    pub(crate) store: Arc<dyn Store>,
    /// Dropped after the store, since fields drop in order: e.g. the temporary directory
    /// holding the store's files.
    _outlives_the_store: Box<dyn Any + Send>,
}

impl Subject {
    pub(crate) fn new(store: impl Store, outlives_the_store: impl Any + Send) -> Subject {
        Subject {
            store: Arc::new(store),
            _outlives_the_store: Box::new(outlives_the_store),
        }
    }
}

/// One filter of each kind the list takes, and the index that serves it: each backend names
/// its indexes alike, and tests that its list queries read them.
pub(crate) fn filters_and_their_indexes() -> [(LeadFilter, &'static str); 5] {
    [
        (LeadFilter::default(), "leads_by_created"),
        (
            LeadFilter {
                status: Some(LeadStatus::New),
                ..LeadFilter::default()
            },
            "leads_by_status",
        ),
        (
            LeadFilter {
                utm_source: Some("google".to_owned()),
                ..LeadFilter::default()
            },
            "leads_by_utm_source",
        ),
        (
            LeadFilter {
                assigned_to_id: Some("user_1".to_owned()),
                ..LeadFilter::default()
            },
            "leads_by_assignee",
        ),
        (
            LeadFilter {
                status: Some(LeadStatus::Lost),
                utm_source: Some("referral".to_owned()),
                ..LeadFilter::default()
            },
            "leads_by_status_and_utm_source",
        ),
    ]
}

/// 2023-11-14T22:13:20Z, in microseconds.
pub(crate) const T0: i64 = 1_700_000_000_000_000;

pub(crate) fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).expect("a test timestamp in range")
}

pub(crate) fn object(value: serde_json::Value) -> JsonObject {
    JsonObject::from_text(value.to_string()).expect("a JSON object")
}

/// A lead with only the required fields set.
pub(crate) fn lead(organization: OrganizationId, email: &str, created_at: DateTime<Utc>) -> Lead {
    Lead::new(organization, email.to_owned(), created_at)
}

/// A lead with every field set, JSON values holding keys the API does not know.
pub(crate) fn full_lead(organization: OrganizationId) -> Lead {
    Lead {
        id: Uuid::new_v4(),
        organization_id: organization,
        email: "Ada.Lovelace@Example.com".to_owned(),
        full_name: Some("Ada Lovelace".to_owned()),
        phone: Some("+44 20 7946 0000".to_owned()),
        company: Some("Analytical Engines Ltd".to_owned()),
        timezone: Some("Europe/London".to_owned()),
        status: LeadStatus::Qualified,
        assigned_to_id: Some("user_42".to_owned()),
        source: LeadSource {
            referrer: Some("https://news.example.com/".to_owned()),
            utm_campaign: Some("spring".to_owned()),
            utm_content: Some("banner".to_owned()),
            utm_medium: Some("cpc".to_owned()),
            utm_source: Some("google".to_owned()),
            utm_term: Some("engines".to_owned()),
        },
        metadata: Some(object(json!({
            "utm_source": "google",
            "referrer": "https://news.example.com/",
            "unknown_key": {"nested": [1, 2.5, null, true, "x"]},
            "unicode": "żółw 🐢",
        }))),
        notes: vec![
            object(json!({
                "content": "first call",
                "created_at": "2023-11-14T22:13:20Z",
                "user_id": "user_42",
                "extra": {"mood": "keen"},
            })),
            object(json!({"content": "second", "created_at": "2023-11-15T09:00:00Z"})),
        ],
        disqualification_data: Some(object(json!({"reason": "budget", "score": 3}))),
        payment_count: 2,
        payment_status: Some("paid".to_owned()),
        last_payment_at: Some(at(T0 + 123_456)),
        total_paid_cents: 199_900,
        created_at: at(T0),
        updated_at: at(T0 + 1),
        // Not 1, so that a backend storing its default rather than the lead's fails.
        version: 3,
    }
}

pub(crate) fn assert_internal<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Internal(_))),
        "expected an internal error, got {result:?}"
    );
}

/// The organization most tests work in.
pub(super) async fn ensure_acme(store: &dyn Store) -> OrganizationId {
    store
        .organization_ensure("acme")
        .await
        .expect("organization")
}

pub(super) async fn list_all(store: &dyn Store, organization: OrganizationId) -> Vec<Lead> {
    store
        .lead_list(organization, LeadFilter::default(), None, 1000)
        .await
        .expect("list")
}

/// An event's body about a lead at its largest ([`largest_lead`]): its notes and
/// metadata as JSON, as a `lead.updated` body carries them (the store does not know the
/// wire format; `crate::webhooks::payload`'s tests deflate the body it renders).
pub(crate) fn largest_lead_body() -> String {
    let lead = largest_lead();
    let raw = |object: &crate::domain::JsonObject| {
        serde_json::from_str::<serde_json::Value>(object.as_str()).expect("JSON")
    };
    serde_json::json!({
        "event": "lead.updated",
        "created_at": lead.updated_at,
        "data": {
            "id": lead.id,
            "email": lead.email,
            "metadata": lead.metadata.as_ref().map(raw),
            "notes": lead.notes.iter().map(raw).collect::<Vec<_>>(),
        },
        "organization_id": lead.organization_id.0,
    })
    .to_string()
}

/// A lead whose notes and metadata are at their limits (checked by the domain's own
/// rules), of words drawn from a fixed seed.
pub(crate) fn largest_lead() -> crate::domain::Lead {
    use serde_json::{Map, Value, json};

    const WORDS: [&str; 24] = [
        "called",
        "about",
        "pricing",
        "follow",
        "up",
        "next",
        "week",
        "demo",
        "of",
        "the",
        "enterprise",
        "plan",
        "budget",
        "approved",
        "by",
        "CFO",
        "sent",
        "proposal",
        "integration",
        "timeline",
        "onboarding",
        "team",
        "needs",
        "SSO",
    ];
    let mut seed = 42_u64;
    let mut words = |bytes: usize| {
        let mut text = String::new();
        while text.len() < bytes {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            text.push_str(WORDS[(seed >> 33) as usize % WORDS.len()]);
            text.push(' ');
        }
        text.truncate(bytes);
        text
    };
    let notes: Vec<Value> = (0..crate::domain::limits::NOTES_MAX_COUNT)
        .map(|n| {
            json!({
                "content": words(560),
                "created_at": format!("2026-12-07T10:{:02}:00Z", n % 60),
                "user_id": format!("user_2sales{n}"),
            })
        })
        .collect();
    let metadata: Map<String, Value> = (0..40)
        .map(|n| (format!("crm_field_{n}"), Value::String(words(385))))
        .collect();
    let metadata = Value::Object(metadata);
    crate::domain::limits::check_notes(&notes).expect("notes within their limits");
    crate::domain::limits::check_metadata(&metadata).expect("metadata within its limits");
    let organization = crate::domain::OrganizationId(uuid::Uuid::nil());
    let mut lead = crate::domain::Lead::new(
        organization,
        "largest@example.com".to_owned(),
        chrono::DateTime::UNIX_EPOCH,
    );
    let object =
        |value: &Value| crate::domain::JsonObject::from_text(value.to_string()).expect("an object");
    lead.notes = notes.iter().map(object).collect();
    lead.metadata = Some(object(&metadata));
    lead
}
