//! Which of the due deliveries a claim takes, and in what order: the delivery worker's
//! fairness, the same on every backend.
//!
//! A backend finds, for each active subscription, its oldest due and unleased deliveries (at
//! most [`IN_FLIGHT_PER_SUBSCRIPTION`], read from an index), and how many deliveries of each
//! subscription are leased now (in flight, in any process); [`in_turn`] chooses among them.
//! A subscription never has more than [`IN_FLIGHT_PER_SUBSCRIPTION`] leased, an organization
//! never more than [`IN_FLIGHT_PER_ORGANIZATION`], and the turns go round: within an
//! organization, each subscription's next delivery before any subscription's one after; across
//! organizations, each organization's next delivery before any organization's one after; the
//! earliest due first within a turn. A receiver that hangs or fails so holds at most its own
//! subscription's share, and an organization at most its own, while everyone else's
//! deliveries go out.

use std::collections::HashMap;
use std::hash::Hash;

use crate::domain::{IN_FLIGHT_PER_ORGANIZATION, IN_FLIGHT_PER_SUBSCRIPTION};

/// A due, unleased delivery a claim may take, with its subscription and organization (each
/// backend's own type of id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Candidate<Id> {
    pub(crate) delivery: Id,
    pub(crate) subscription: Id,
    pub(crate) organization: Id,
}

/// How many deliveries of a subscription (of `organization`) are leased now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Leased<Id> {
    pub(crate) subscription: Id,
    pub(crate) organization: Id,
    pub(crate) count: u32,
}

/// The deliveries a claim of at most `limit` takes, in the order it hands them out, of
/// `candidates` (earliest due first) while `leased` are in flight: see the module's
/// documentation.
pub(crate) fn in_turn<Id: Clone + Eq + Hash>(
    candidates: Vec<Candidate<Id>>,
    leased: &[Leased<Id>],
    limit: u32,
) -> Vec<Id> {
    let mut by_subscription: HashMap<&Id, u32> = HashMap::new();
    let mut by_organization: HashMap<&Id, u32> = HashMap::new();
    for lease in leased {
        *by_subscription.entry(&lease.subscription).or_default() += lease.count;
        *by_organization.entry(&lease.organization).or_default() += lease.count;
    }
    // A candidate's turn in its subscription: its subscription's deliveries in flight come
    // first, so a busy subscription's next delivery waits for idle subscriptions' next ones.
    let mut turns: Vec<(u32, Candidate<Id>)> = Vec::with_capacity(candidates.len());
    let mut taken: HashMap<Id, u32> = HashMap::new();
    for candidate in candidates {
        let turn = taken
            .entry(candidate.subscription.clone())
            .or_insert_with(|| {
                by_subscription
                    .get(&candidate.subscription)
                    .copied()
                    .unwrap_or(0)
            });
        if *turn < IN_FLIGHT_PER_SUBSCRIPTION {
            turns.push((*turn, candidate));
            *turn += 1;
        }
    }
    // Stable: within a turn, the earliest due first.
    turns.sort_by_key(|(turn, _)| *turn);
    let mut taken: HashMap<Id, u32> = HashMap::new();
    let mut chosen: Vec<(u32, Id)> = Vec::with_capacity(turns.len());
    for (_, candidate) in turns {
        let turn = taken
            .entry(candidate.organization.clone())
            .or_insert_with(|| {
                by_organization
                    .get(&candidate.organization)
                    .copied()
                    .unwrap_or(0)
            });
        if *turn < IN_FLIGHT_PER_ORGANIZATION {
            chosen.push((*turn, candidate.delivery));
            *turn += 1;
        }
    }
    chosen.sort_by_key(|(turn, _)| *turn);
    chosen
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(_, delivery)| delivery)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `delivery` of `subscription`, of the organization its first letter names.
    fn due(delivery: &str, subscription: &str) -> Candidate<String> {
        Candidate {
            delivery: delivery.to_owned(),
            subscription: subscription.to_owned(),
            organization: subscription[..1].to_owned(),
        }
    }

    fn leased(subscription: &str, count: u32) -> Leased<String> {
        Leased {
            subscription: subscription.to_owned(),
            organization: subscription[..1].to_owned(),
            count,
        }
    }

    #[test]
    fn each_subscription_and_organization_takes_its_turn() {
        // Organization a: subscriptions a1 (six due) and a2 (one, due after them); b: b1 (one,
        // due last).
        let mut candidates: Vec<_> = (1..=6).map(|n| due(&format!("x{n}"), "a1")).collect();
        candidates.push(due("y", "a2"));
        candidates.push(due("z", "b1"));
        assert_eq!(
            in_turn(candidates.clone(), &[], 100),
            ["x1", "z", "y", "x2", "x3", "x4"],
            "a1 has at most {IN_FLIGHT_PER_SUBSCRIPTION} in flight; b's first before a's second"
        );
        assert_eq!(in_turn(candidates.clone(), &[], 2), ["x1", "z"]);
        // Three of a1's in flight: one more place for a1, after a2's and b1's turn.
        assert_eq!(
            in_turn(candidates, &[leased("a1", 3)], 100),
            ["z", "y", "x1"]
        );
    }

    #[test]
    fn an_organization_has_at_most_its_share_in_flight() {
        let subscriptions = ["a1", "a2", "a3", "a4", "a5"];
        let mut candidates = Vec::new();
        for n in 1..=3 {
            for subscription in subscriptions {
                candidates.push(due(&format!("{subscription}-{n}"), subscription));
            }
        }
        candidates.push(due("b", "b1"));
        let chosen = in_turn(candidates.clone(), &[], 100);
        let share = usize::try_from(IN_FLIGHT_PER_ORGANIZATION).expect("small");
        assert_eq!(chosen.len(), share + 1);
        // Each subscription's first, then the second ones; b's first in the first turn.
        assert_eq!(&chosen[..2], ["a1-1", "b"]);
        assert_eq!(&chosen[2..6], ["a2-1", "a3-1", "a4-1", "a5-1"]);
        assert!(chosen[6..].iter().all(|delivery| delivery.ends_with("-2")));
        // An organization with its share in flight gets nothing more; the others do.
        let busy: Vec<_> = subscriptions
            .iter()
            .map(|subscription| leased(subscription, 2))
            .collect();
        assert_eq!(in_turn(candidates, &busy, 100), ["b"]);
    }
}
