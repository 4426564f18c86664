//! What the outbox stores of a lead at its largest: one lead whose metadata (16 KiB) and
//! notes (100 notes, 64 KiB together) are at their limits, patched [`PATCHES`] times, each
//! patch moving its status, so that each stores a `lead.updated` and a `lead.status_changed`
//! event (one subscription to each, to the webhooks phase's receiver). The issue measured
//! 7.7 MB for 100 such patches when every body was stored as its text.
//!
//! The text is words a sales team writes, drawn from a fixed seed: deflate finds in it what it
//! finds in real notes (repeated words, JSON keys), more than in random bytes and less than
//! in one letter repeated.

use std::path::Path;

use anyhow::{Context, Result};
use http::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::outbox::Outbox;
use super::requests::{Api, created_id};

/// How many patches of the lead are measured.
pub const PATCHES: u32 = 100;

/// What the patches stored.
#[derive(Clone, Debug, Serialize)]
pub struct LargestLead {
    pub patches: u32,
    pub events: u64,
    /// A body's mean size as sent: what the outbox stored of it before bodies were deflated.
    pub sent_bytes_per_event: f64,
    /// A body's mean size as stored now.
    pub stored_bytes_per_event: f64,
    /// The events table's pages the patches added, per event (its rows, overflow pages and
    /// free space; `None` without `dbstat`).
    pub page_bytes_per_event: Option<f64>,
}

/// Subscribes `target` to both events of a status change, then creates the lead and patches
/// it, through `api`, on the server whose file is `database`.
pub async fn measure(api: &Api, database: &Path, target: &str) -> Result<LargestLead> {
    for event in ["lead.updated", "lead.status_changed"] {
        api.subscribe(event, target).await?;
    }
    let before = Outbox::read(database)?;
    let lead = json!({"email": "largest@example.com", "metadata": metadata()});
    let created = api.send(Method::POST, "/v1/leads", &lead).await?;
    let id = created_id(&created).context("the largest lead's id")?;
    for patch in 0..PATCHES {
        let status = ["contacted", "qualified"][patch as usize % 2];
        let change = json!({"status": status, "notes": notes(patch)});
        api.send(Method::PATCH, &format!("/v1/leads/{id}"), &change)
            .await?;
    }
    let after = Outbox::read(database)?;
    let events = after.events.saturating_sub(before.events);
    let per_event = |total: f64| total / events.max(1) as f64;
    let sum = |outbox: &Outbox, mean: f64| mean * outbox.events as f64;
    let measured = LargestLead {
        patches: PATCHES,
        events,
        sent_bytes_per_event: per_event(
            sum(&after, after.event_sent_bytes) - sum(&before, before.event_sent_bytes),
        ),
        stored_bytes_per_event: per_event(
            sum(&after, after.event_stored_bytes) - sum(&before, before.event_stored_bytes),
        ),
        page_bytes_per_event: after
            .event_pages
            .zip(before.event_pages)
            .map(|(after, before)| per_event(after - before)),
    };
    println!(
        "bench: the largest lead, {PATCHES} patches: {events} events, {:.0} B sent and {:.0} B \
         stored each",
        measured.sent_bytes_per_event, measured.stored_bytes_per_event
    );
    Ok(measured)
}

/// Words from a fixed seed (a linear congruential generator: the same text on every run),
/// `length` bytes of them.
fn words(seed: &mut u64, length: usize) -> String {
    const WORDS: &[&str] = &[
        "spoke", "with", "their", "head", "of", "sales", "wants", "a", "quote", "for", "seats",
        "renewal", "in", "March", "asked", "about", "API", "limits", "and", "SSO", "pilot",
        "budget", "signed", "off", "call", "back", "on", "Tuesday", "sent", "the", "deck",
    ];
    let mut text = String::with_capacity(length + 16);
    while text.len() < length {
        *seed = seed
            .wrapping_mul(0x5851_f42d_4c95_7f2d)
            .wrapping_add(0x1405_7b7e_f767_814f);
        let word = WORDS[(*seed >> 40) as usize % WORDS.len()];
        text.push_str(word);
        text.push(' ');
    }
    text.truncate(length);
    text
}

/// Metadata at its limit: 40 keys of 385 bytes of words (16,200 bytes as compact JSON, of
/// 16 KiB).
fn metadata() -> Value {
    let mut seed = 7;
    Value::Object(
        (0..40)
            .map(|key| {
                (
                    format!("crm_field_{key:02}"),
                    Value::from(words(&mut seed, 385)),
                )
            })
            .collect(),
    )
}

/// Notes at their limit, the first saying which patch wrote them: 100 notes of about 635
/// bytes as compact JSON (63.6 KB together, of 64 KiB).
fn notes(patch: u32) -> Value {
    let mut seed = 11;
    (0..100)
        .map(|note| {
            let mut content = words(&mut seed, 560);
            if note == 0 {
                content.replace_range(..8, &format!("{patch:08}"));
            }
            json!({
                "content": content,
                "created_at": format!("2026-12-07T09:{:02}:00Z", note % 60),
                "user_id": format!("user_bench{note}"),
            })
        })
        .collect()
}
