//! Paths dropshot 0.18's router cannot hold side by side: a literal segment where another path
//! has a variable (Aura's `/v1/webhooks/deliveries` beside `/v1/webhooks/{id}`; dropshot issue
//! #199). Registering both panics when the server starts.
//!
//! The operation on the literal path is *dispatched*: it gets no endpoint of its own. The
//! endpoint of the operation on the variable path with the same method takes its requests, and
//! when that segment is the literal, it serves the dispatched operation instead, with that
//! operation's handler, parameters and answer. Everything else about the dispatched operation
//! (its handler, its types, its versions) is as for any operation.
//!
//! Only what dispatch can serve faithfully is accepted: the dispatched operation takes no path
//! parameters and no body (its request is read through the other endpoint's route, whose
//! variables it does not have, and that endpoint may not read a body it does not take), and the
//! variable path's operation answers through `Answer` (a raw one cannot carry another's
//! answer). Anything else, and a literal beside a variable with no operation to dispatch
//! through, fails the generation with the two paths named.

use anyhow::{Result, bail};

use super::operations::Operation;

/// One dispatched operation: served by the endpoint of `through` when path segment `segment`
/// is `literal`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dispatch {
    /// The operation on the literal path (`webhook_delivery_log`).
    pub operation: String,
    /// The operation on the variable path whose endpoint takes its requests (`webhook_view`).
    pub through: String,
    /// The index of the segment among the path's segments (`2` in `/v1/webhooks/{id}`).
    pub segment: usize,
    /// The literal the segment is then (`deliveries`).
    pub literal: String,
}

/// A method the variable path has and a dispatched literal path does not: its endpoint answers
/// `405 Method Not Allowed` for the literal, naming the literal path's methods, as dropshot's
/// router would for a path of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub segment: usize,
    pub literal: String,
    /// The literal path's methods, for `Allow`: `GET`.
    pub allow: String,
}

/// The refusals of the endpoint of `op` among `operations`, given their `dispatches`.
pub fn refusals(op: &Operation, operations: &[Operation], dispatches: &[Dispatch]) -> Vec<Refusal> {
    let mut refusals: Vec<Refusal> = Vec::new();
    for dispatch in dispatches {
        let through = operations.iter().find(|other| other.id == dispatch.through);
        let literal = operations
            .iter()
            .find(|other| other.id == dispatch.operation);
        let (Some(through), Some(literal)) = (through, literal) else {
            continue;
        };
        if through.path != op.path {
            continue;
        }
        let methods = methods_of(operations, &literal.path);
        if methods.contains(&op.method.as_str())
            || refusals
                .iter()
                .any(|refusal| refusal.literal == dispatch.literal)
        {
            continue;
        }
        refusals.push(Refusal {
            segment: dispatch.segment,
            literal: dispatch.literal.clone(),
            allow: methods.join(", "),
        });
    }
    refusals
}

/// The methods of `path` among `operations`, in order: what its `Allow` names.
pub fn methods_of<'a>(operations: &'a [Operation], path: &str) -> Vec<&'a str> {
    let mut methods: Vec<&str> = operations
        .iter()
        .filter(|other| other.path == path)
        .map(|other| other.method.as_str())
        .collect();
    methods.sort_unstable();
    methods
}

/// Every dispatch among `operations` (one version's), in their order; an error for a literal
/// beside a variable that dispatch cannot serve.
pub fn dispatches(operations: &[Operation]) -> Result<Vec<Dispatch>> {
    let mut dispatches = Vec::new();
    for literal_op in operations {
        let literal_path = segments(&literal_op.path);
        let beside: Vec<(&Operation, usize)> = operations
            .iter()
            .filter_map(|other| {
                conflict(&literal_path, &segments(&other.path)).map(|index| (other, index))
            })
            .collect();
        let Some(&(_, segment)) = beside.first() else {
            continue;
        };
        let through = beside.iter().find(|(other, index)| {
            *index == segment
                && other.method == literal_op.method
                && segments(&other.path).len() == literal_path.len()
        });
        let Some((through, _)) = through else {
            bail!(
                "{} {} has a literal segment where {} has a variable, which dropshot's router \
                 cannot serve side by side, and no {} operation on a path of that shape to \
                 dispatch it through",
                literal_op.method,
                literal_op.path,
                beside[0].0.path,
                literal_op.method
            );
        };
        if literal_op.path_params.is_some() || literal_op.body.is_some() {
            bail!(
                "{} {} is served through {} {} (dropshot's router cannot serve both paths), \
                 so it can take neither path parameters nor a body",
                literal_op.method,
                literal_op.path,
                through.method,
                through.path
            );
        }
        if through.raw {
            bail!(
                "{} {} would be served through {} {}, which builds its answer itself and so \
                 cannot carry another operation's",
                literal_op.method,
                literal_op.path,
                through.method,
                through.path
            );
        }
        dispatches.push(Dispatch {
            operation: literal_op.id.clone(),
            through: through.id.clone(),
            segment,
            literal: literal_path[segment].to_string(),
        });
    }
    Ok(dispatches)
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').collect()
}

fn is_variable(segment: &str) -> bool {
    segment.starts_with('{')
}

/// Where dropshot's router refuses `literal` beside `variable`: the first segment at which
/// `literal` has a literal and `variable` a variable, after equal segments.
fn conflict(literal: &[&str], variable: &[&str]) -> Option<usize> {
    for (index, (a, b)) in literal.iter().zip(variable).enumerate() {
        match (is_variable(a), is_variable(b)) {
            (false, true) => return Some(index),
            (false, false) if a == b => {}
            (true, true) => {}
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_beside_a_variable_conflicts_where_they_part() {
        let at = |a: &str, b: &str| conflict(&segments(a), &segments(b));
        assert_eq!(at("/v1/webhooks/deliveries", "/v1/webhooks/{id}"), Some(2));
        assert_eq!(
            at("/v1/webhooks/deliveries", "/v1/webhooks/{id}/enable"),
            Some(2)
        );
        assert_eq!(at("/v1/webhooks/{id}", "/v1/webhooks/deliveries"), None);
        assert_eq!(at("/v1/leads", "/v1/webhooks/{id}"), None);
        assert_eq!(at("/v1/leads/{id}", "/v1/leads/{id}"), None);
    }
}
