//! Whether the bytes a new connection has sent so far hold the start of its first request,
//! in either protocol a client may speak without TLS: an HTTP/1 request head (up to its blank
//! line), or HTTP/2 with prior knowledge (the connection preface, then frames up to the first
//! `HEADERS`). Nothing here parses more than that: dropshot's HTTP stack reads the request.

/// What an HTTP/2 client sends first (RFC 9113, section 3.4).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The length of an HTTP/2 frame's header (RFC 9113, section 4.1).
const FRAME_HEADER: usize = 9;

/// The type of an HTTP/2 `HEADERS` frame, which opens a request.
const HEADERS_FRAME: u8 = 0x1;

/// How much of a first request is read before it is handed on however it looks: a client
/// that has sent this much is not idle, and dropshot's limits on a head's size apply.
pub(super) const MAX_PREREAD: usize = 64 * 1024;

/// Whether `received`, everything a connection has sent so far, holds the start of a request.
pub(super) fn has_arrived(received: &[u8]) -> bool {
    if received.len() >= MAX_PREREAD {
        return true;
    }
    if received.len() < HTTP2_PREFACE.len() && HTTP2_PREFACE.starts_with(received) {
        // Possibly HTTP/2, whose preface has a blank line of its own: wait for the rest.
        return false;
    }
    match received.strip_prefix(HTTP2_PREFACE) {
        Some(frames) => has_headers_frame(frames),
        None => received.windows(4).any(|window| window == b"\r\n\r\n"),
    }
}

/// Whether the frames after the preface reach a `HEADERS` frame (its header is enough).
fn has_headers_frame(mut frames: &[u8]) -> bool {
    while let Some(header) = frames.get(..FRAME_HEADER) {
        if header[3] == HEADERS_FRAME {
            return true;
        }
        let length =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        match frames.get(FRAME_HEADER + length..) {
            Some(rest) => frames = rest,
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP/2 frame: its header (length, type, flags, stream 1) and `payload`.
    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut frame = vec![length[1], length[2], length[3], kind, 0, 0, 0, 0, 1];
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn an_http1_request_has_arrived_at_the_end_of_its_head() {
        let head = b"POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n";
        assert!(has_arrived(head));
        assert!(has_arrived(&[&head[..], b"{}"].concat()));
        for cut in 0..head.len() {
            assert!(!has_arrived(&head[..cut]), "{cut} bytes of the head");
        }
    }

    #[test]
    fn the_http2_preface_alone_is_not_a_request() {
        for cut in 0..=HTTP2_PREFACE.len() {
            assert!(
                !has_arrived(&HTTP2_PREFACE[..cut]),
                "{cut} bytes of the preface"
            );
        }
    }

    #[test]
    fn an_http2_request_has_arrived_with_its_first_headers_frame() {
        let settings = frame(0x4, &[0, 3, 0, 0, 0, 100]);
        let window = frame(0x8, &[0, 0, 0xff, 0xff]);
        let ping = frame(0x6, &[0; 8]);
        let mut received = HTTP2_PREFACE.to_vec();
        for frame in [&settings, &window, &ping] {
            received.extend_from_slice(frame);
            assert!(!has_arrived(&received), "frames without HEADERS");
        }
        let headers = frame(HEADERS_FRAME, &[0x82, 0x84]);
        assert!(!has_arrived(
            &[&received[..], &headers[..FRAME_HEADER - 1]].concat()
        ));
        received.extend_from_slice(&headers[..FRAME_HEADER]);
        assert!(has_arrived(&received));
    }

    #[test]
    fn a_frame_cut_short_waits_for_the_rest() {
        let mut received = HTTP2_PREFACE.to_vec();
        let settings = frame(0x4, &[0; 12]);
        received.extend_from_slice(&settings[..FRAME_HEADER + 4]);
        assert!(!has_arrived(&received));
    }

    #[test]
    fn enough_bytes_count_as_a_request_whatever_they_are() {
        assert!(!has_arrived(&vec![b'a'; MAX_PREREAD - 1]));
        assert!(has_arrived(&vec![b'a'; MAX_PREREAD]));
    }
}
