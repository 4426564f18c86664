//! W3C trace context (<https://www.w3.org/TR/trace-context/>): the `traceparent` a request
//! may carry, so that an operator can follow it into the logs and on to the webhook
//! deliveries it causes, each sent as a child of the request in the same trace.
//!
//! As tracing libraries keep their context, the trace of the request a task serves is
//! task-local ([`TraceParent::within`], [`TraceParent::current`]): the lead write that stores
//! events reads it there rather than from a parameter of every write.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

tokio::task_local! {
    static CURRENT: Option<TraceParent>;
}

/// A valid `traceparent`: the trace, the caller's span in it, and the trace flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// The header's name.
    pub const HEADER: &'static str = "traceparent";

    /// Runs `work` as part of `trace` (of the request being served), for
    /// [`TraceParent::current`].
    pub async fn within<T>(trace: Option<TraceParent>, work: impl Future<Output = T>) -> T {
        CURRENT.scope(trace, work).await
    }

    /// The trace of the request this task serves, if it sent one.
    pub fn current() -> Option<TraceParent> {
        CURRENT.try_with(Clone::clone).ok().flatten()
    }

    /// The same trace, with a new span of ours as the parent: what a call this one causes
    /// (a webhook delivery) sends.
    pub fn child(&self) -> Self {
        let mut parent_id = rand::random::<[u8; 8]>();
        // An all-zero id is invalid; one in 2^64 draws.
        if parent_id == [0; 8] {
            parent_id[7] = 1;
        }
        Self {
            parent_id,
            ..self.clone()
        }
    }
}

/// Why a `traceparent` is not used: it is then ignored, as the recommendation says, and
/// never refuses a request.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidTraceParent;

impl FromStr for TraceParent {
    type Err = InvalidTraceParent;

    /// `version-trace_id-parent_id-flags`, lowercase hex. Version `00` is exactly that; a
    /// later version may add fields after the flags, and is read as `00` (version `ff` is
    /// invalid).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut fields = text.splitn(5, '-');
        let mut next = || fields.next().ok_or(InvalidTraceParent);
        let (version, trace_id, parent_id, flags) = (next()?, next()?, next()?, next()?);
        let rest = fields.next();
        let version = hex_array::<1>(version)?[0];
        if version == 0xff || (version == 0 && rest.is_some()) {
            return Err(InvalidTraceParent);
        }
        let trace_id = hex_array::<16>(trace_id)?;
        let parent_id = hex_array::<8>(parent_id)?;
        let flags = hex_array::<1>(flags)?[0];
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return Err(InvalidTraceParent);
        }
        Ok(Self {
            trace_id,
            parent_id,
            flags,
        })
    }
}

/// `N` bytes from exactly `2N` lowercase hex digits.
fn hex_array<const N: usize>(text: &str) -> Result<[u8; N], InvalidTraceParent> {
    if text.bytes().any(|byte| byte.is_ascii_uppercase()) {
        return Err(InvalidTraceParent);
    }
    let mut bytes = [0; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|_| InvalidTraceParent)?;
    Ok(bytes)
}

impl fmt::Display for TraceParent {
    /// Version `00`, the form this server sends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex::encode(self.trace_id),
            hex::encode(self.parent_id),
            self.flags
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specifications_example_reads_and_writes_back() {
        let trace: TraceParent = EXAMPLE.parse().unwrap();
        assert_eq!(trace.to_string(), EXAMPLE);
    }

    #[test]
    fn a_child_keeps_the_trace_and_flags_with_a_new_parent() {
        let trace: TraceParent = EXAMPLE.parse().unwrap();
        let child = trace.child().to_string();
        assert!(
            child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{child}"
        );
        assert!(child.ends_with("-01"), "{child}");
        assert_ne!(child, EXAMPLE);
        assert_eq!(
            child
                .parse::<TraceParent>()
                .unwrap()
                .child()
                .to_string()
                .len(),
            55
        );
    }

    #[test]
    fn a_later_version_is_read_and_an_invalid_one_is_not() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
        assert_eq!(later.parse::<TraceParent>().unwrap().to_string(), EXAMPLE);
        for invalid in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
        ] {
            assert_eq!(
                invalid.parse::<TraceParent>(),
                Err(InvalidTraceParent),
                "{invalid}"
            );
        }
    }
}
