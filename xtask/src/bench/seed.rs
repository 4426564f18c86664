//! `--leads N`: N leads written straight into one organization with raw rusqlite (not
//! through HTTP), in large transactions, before the server starts.
//!
//! The leads look like a year of real traffic: one every 30 s or so, oldest first, statuses
//! and UTM sources spread as a sales funnel's are ([`STATUSES`], [`SOURCES`]). Everything is
//! derived from the lead's number by a fixed hash, so every run seeds the same data.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::TransactionBehavior;

use super::db::{self, NewLead};

/// Statuses and their share of leads, per mille.
pub const STATUSES: [(&str, u32); 6] = [
    ("new", 400),
    ("contacted", 250),
    ("qualified", 150),
    ("disqualified", 80),
    ("closed", 70),
    ("lost", 50),
];

/// UTM sources and their share of leads, per mille; `None`: no attribution at all.
pub const SOURCES: [(Option<&str>, u32); 6] = [
    (Some("google"), 350),
    (Some("facebook"), 200),
    (None, 200),
    (Some("linkedin"), 120),
    (Some("newsletter"), 80),
    (Some("referral"), 50),
];

const COMPANIES: [&str; 4] = ["Acme", "Globex", "Initech", "Umbrella"];

/// Mean time between two seeded leads.
const SPACING_MICROS: i64 = 30_000_000;

/// Rows per transaction: large, since commits are what seeding would otherwise wait on.
const BATCH: u64 = 20_000;

/// SplitMix64: a fixed, well-mixed hash of a lead's number.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The entry of `table` that `roll` (0..1000) falls on, by its share.
fn pick<T: Copy>(table: &[(T, u32)], roll: u32) -> T {
    let mut below = 0;
    for &(value, share) in table {
        below += share;
        if roll < below {
            return value;
        }
    }
    table[table.len() - 1].0
}

/// Lead number `n` of `count`, created `count - n` spacings before `now_micros`.
pub fn lead(n: u64, count: u64, now_micros: i64) -> NewLead<'static> {
    let hash = mix(n);
    let roll = |shift: u32| ((hash >> shift) % 1000) as u32;
    let back = i64::try_from(count - n).unwrap_or(i64::MAX / SPACING_MICROS);
    // Jitter below one spacing keeps the order of creation the order of numbers.
    let jitter = (hash % (SPACING_MICROS as u64 / 2)) as i64;
    let created_at = now_micros - back * SPACING_MICROS + jitter;
    // A UUIDv7 of its creation time, as the server makes them.
    let mut random = [0; 10];
    random[..8].copy_from_slice(&hash.to_le_bytes());
    random[8..].copy_from_slice(&mix(hash).to_le_bytes()[..2]);
    let millis = u64::try_from(created_at / 1000).unwrap_or_default();
    NewLead {
        id: uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .to_string(),
        email: format!("lead{n}@seed.example.com"),
        full_name: format!("Seeded Lead {n}"),
        company: COMPANIES[(hash % COMPANIES.len() as u64) as usize],
        status: pick(&STATUSES, roll(16)),
        utm_source: pick(&SOURCES, roll(40)),
        created_at,
    }
}

/// Seeds `count` leads into `organization` of the database at `path`; returns how long it
/// took.
pub fn seed(path: &Path, organization: &str, count: u64) -> Result<Duration> {
    let started = Instant::now();
    let mut connection = db::open(path)?;
    // The database has no reader yet, and a crash only loses the seed: commit without
    // waiting for the disk, with a large page cache. The server opens it in its own
    // configuration afterwards.
    connection.pragma_update(None, "synchronous", "OFF")?;
    connection.pragma_update(None, "cache_size", -262_144)?;
    let now = chrono::Utc::now().timestamp_micros();
    let mut n = 0;
    while n < count {
        let end = (n + BATCH).min(count);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut statement = transaction.prepare_cached(db::INSERT)?;
            let mut change = transaction.prepare_cached(db::INSERT_CHANGE)?;
            for number in n..end {
                let lead = lead(number, count, now);
                db::insert(&mut statement, organization, &lead)?;
                // Created (and last changed) in the order of their numbers.
                let number = i64::try_from(number + 1)?;
                change.execute(rusqlite::params![lead.id, organization, number])?;
            }
            if end == count {
                let count = i64::try_from(count)?;
                transaction.execute(db::SET_LAST_CHANGE, rusqlite::params![count, organization])?;
            }
        }
        transaction.commit()?;
        n = end;
        if n % 200_000 == 0 || n == count {
            println!(
                "bench: seeded {n} of {count} leads ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Leave no WAL behind: the server starts on a checkpointed file.
    connection.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_whole() {
        assert_eq!(STATUSES.iter().map(|(_, share)| share).sum::<u32>(), 1000);
        assert_eq!(SOURCES.iter().map(|(_, share)| share).sum::<u32>(), 1000);
    }

    #[test]
    fn pick_follows_the_shares() {
        assert_eq!(pick(&STATUSES, 0), "new");
        assert_eq!(pick(&STATUSES, 399), "new");
        assert_eq!(pick(&STATUSES, 400), "contacted");
        assert_eq!(pick(&STATUSES, 999), "lost");
    }

    #[test]
    fn seeded_leads_spread_like_the_shares_and_keep_their_order() {
        let count = 100_000;
        let leads: Vec<_> = (0..count).map(|n| lead(n, count, 0)).collect();
        let share = |test: &dyn Fn(&NewLead<'_>) -> bool| {
            leads.iter().filter(|lead| test(lead)).count() as f64 / count as f64
        };
        assert!((share(&|lead| lead.status == "new") - 0.40).abs() < 0.01);
        assert!((share(&|lead| lead.status == "lost") - 0.05).abs() < 0.005);
        assert!((share(&|lead| lead.utm_source == Some("google")) - 0.35).abs() < 0.01);
        assert!((share(&|lead| lead.utm_source.is_none()) - 0.20).abs() < 0.01);
        assert!(
            leads
                .windows(2)
                .all(|pair| pair[0].created_at < pair[1].created_at)
        );
        // Ids and emails are unique, and the same on every run.
        let ids: std::collections::HashSet<_> = leads.iter().map(|lead| &lead.id).collect();
        assert_eq!(ids.len(), leads.len());
        assert_eq!(lead(7, count, 0).id, leads[7].id);
    }
}
