//! The unit tests of signing and verifying, against vectors computed apart from this code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac as _;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use super::secret::{HmacSha256, SECRET_PREFIX, Secret};
use super::*;
use crate::types::{LeadStatus, WebhookEvent};

/// The example secret of `POST /v1/webhooks` in the spec.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM=";
/// Another subscription's secret.
const OTHER_SECRET: &str = "whsec_JuXkis/iDpP51Vyrb15b5XdYvvOeZIos+i8FVjjrKc8=";
const ID: &str = "0192f8a4-7d00-7000-8000-000000000001";
/// 2026-01-17T08:00:00Z.
const SENT_AT: u64 = 1_768_636_800;

/// A `lead.created` delivery, byte for byte, for the independent test vector.
const CREATED_BODY: &str = r#"{"event":"lead.created","created_at":"2026-01-17T08:00:00Z","data":{"assigned_to_id":null,"company":"Acme Corp","created_at":"2026-01-17T08:00:00Z","disqualification_data":null,"email":"john@example.com","full_name":"John Doe","id":"0192f8a4-6b1e-7c3d-9a5f-2e4d6c8b0a13","last_payment_at":null,"metadata":{"utmSource":"newsletter"},"notes":null,"payment_count":0,"payment_status":null,"phone":"+14155550100","source":{"referrer":null,"utm_campaign":null,"utm_content":null,"utm_medium":null,"utm_source":"newsletter","utm_term":null},"status":"new","timezone":"America/New_York","total_paid_cents":0,"updated_at":"2026-01-17T08:00:00Z"},"organization_id":"org_2b9Xk4"}"#;
/// Its signatures, computed apart from this code, with Python's `hmac`:
/// `hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()`.
const CREATED_AURA: &str = "b06c1d6b89b26a3f89686f1b2a0a442f8ce443778dd9d07904958837cff62fa8";
/// `base64.b64encode(hmac.new(base64.b64decode(SECRET[6:]),
/// f"{ID}.{SENT_AT}.".encode() + body, hashlib.sha256).digest())`.
const CREATED_V1: &str = "v1,jzKoGHQxwuNNQLE550Trs5hh7JWYlwVLhGZ3DB9iJQs=";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// A lead as `GET /v1/leads/{id}` answers it, every field of the schema present.
fn lead(status: &str) -> serde_json::Value {
    json!({
        "assigned_to_id": "user_2x7Q",
        "company": "Acme Corp",
        "created_at": "2026-01-17T08:00:00Z",
        "disqualification_data": null,
        "email": "john@example.com",
        "full_name": "John Doe",
        "id": "0192f8a4-6b1e-7c3d-9a5f-2e4d6c8b0a13",
        "last_payment_at": "2026-01-17T08:20:00Z",
        "metadata": { "utmSource": "newsletter", "fbclid": "IwAR0x" },
        "notes": [{ "content": "Called, wants a demo", "created_at": "2026-01-17T08:10:00Z", "user_id": "user_2x7Q" }],
        "payment_count": 1,
        "payment_status": "succeeded",
        "phone": "+14155550100",
        "source": {
            "referrer": "https://example.com/",
            "utm_campaign": "spring",
            "utm_content": null,
            "utm_medium": "email",
            "utm_source": "newsletter",
            "utm_term": null
        },
        "status": status,
        "timezone": "America/New_York",
        "total_paid_cents": 4900,
        "updated_at": "2026-01-17T08:30:00Z"
    })
}

fn event_body(event: &str, status: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": event,
        "created_at": "2026-01-17T08:30:00Z",
        "data": lead(status),
        "organization_id": "org_2b9Xk4"
    }))
    .unwrap()
}

fn signed(secret: &str, body: &[u8]) -> HeaderMap {
    sign(secret, ID, SENT_AT, body).unwrap().to_header_map()
}

fn without(mut headers: HeaderMap, names: &[&str]) -> HeaderMap {
    for name in names {
        headers.remove(*name);
    }
    headers
}

fn verify_sent(body: &[u8], headers: &HeaderMap) -> Result<WebhookEvent, VerifyError> {
    verify_at(SECRET, body, headers, at(SENT_AT + 3))
}

#[test]
fn an_independently_computed_vector_signs_and_verifies() {
    let body = CREATED_BODY.as_bytes();
    let signed = sign(SECRET, ID, SENT_AT, body).unwrap();
    assert_eq!(signed.aura_signature(), CREATED_AURA);
    assert_eq!(signed.webhook_signature(), CREATED_V1);
    assert_eq!(signed.webhook_id(), ID);
    assert_eq!(signed.webhook_timestamp(), SENT_AT);

    // Headers written by hand, not by `sign`.
    let mut headers = HeaderMap::new();
    headers.insert("X-Aura-Signature", HeaderValue::from_static(CREATED_AURA));
    headers.insert("webhook-id", HeaderValue::from_static(ID));
    headers.insert("webhook-timestamp", HeaderValue::from_static("1768636800"));
    headers.insert("webhook-signature", HeaderValue::from_static(CREATED_V1));
    assert_eq!(HeaderMap::from(signed), headers);
    let WebhookEvent::CreatedEvent(event) = verify_sent(body, &headers).unwrap() else {
        panic!("not a lead.created event");
    };
    assert_eq!(event.organization_id, "org_2b9Xk4");
    assert_eq!(event.data.email, "john@example.com");
    assert_eq!(event.data.status, LeadStatus::New);
}

#[test]
fn the_standard_webhooks_published_vector_signs() {
    // The Standard Webhooks specification's own example: a 24-byte key, which a
    // subscription's secret never has, so it is checked on the signing step alone.
    let key = BASE64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let secret = Secret {
        aura: HmacSha256::new_from_slice(b"unused").unwrap(),
        standard: HmacSha256::new_from_slice(&key).unwrap(),
    };
    let mac = secret.standard_mac(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232314}"#,
    );
    assert_eq!(
        BASE64.encode(mac.finalize().into_bytes()),
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn each_event_verifies_into_its_variant() {
    let body = event_body("lead.created", "new");
    match verify_sent(&body, &signed(SECRET, &body)).unwrap() {
        WebhookEvent::CreatedEvent(event) => assert_eq!(event.data.status, LeadStatus::New),
        other => panic!("lead.created parsed as {other:?}"),
    }
    let body = event_body("lead.updated", "contacted");
    match verify_sent(&body, &signed(SECRET, &body)).unwrap() {
        WebhookEvent::UpdatedEvent(event) => {
            assert_eq!(event.data.status, LeadStatus::Contacted);
            assert_eq!(event.data.total_paid_cents, 4900);
            assert_eq!(event.data.notes.unwrap().len(), 1);
        }
        other => panic!("lead.updated parsed as {other:?}"),
    }
    let body = event_body("lead.status_changed", "qualified");
    match verify_sent(&body, &signed(SECRET, &body)).unwrap() {
        WebhookEvent::StatusChangedEvent(event) => {
            assert_eq!(event.data.status, LeadStatus::Qualified);
            assert_eq!(event.organization_id, "org_2b9Xk4");
        }
        other => panic!("lead.status_changed parsed as {other:?}"),
    }
}

#[test]
fn another_secret_is_refused() {
    let body = event_body("lead.created", "new");
    let headers = signed(OTHER_SECRET, &body);
    for headers in [headers.clone(), without(headers, &[AURA_SIGNATURE])] {
        assert!(matches!(
            verify_sent(&body, &headers),
            Err(VerifyError::BadSignature {
                header: WEBHOOK_SIGNATURE
            })
        ));
    }
    // A right `X-Aura-Signature` does not make up for a wrong `webhook-signature`.
    let mut headers = signed(OTHER_SECRET, &body);
    let genuine = sign(SECRET, ID, SENT_AT, &body).unwrap();
    headers.insert(
        AURA_SIGNATURE,
        HeaderValue::from_str(genuine.aura_signature()).unwrap(),
    );
    assert!(matches!(
        verify_sent(&body, &headers),
        Err(VerifyError::BadSignature {
            header: WEBHOOK_SIGNATURE
        })
    ));
}

#[test]
fn a_tampered_body_is_refused() {
    let body = CREATED_BODY.as_bytes();
    let headers = signed(SECRET, body);
    let tampered = CREATED_BODY.replace("\"status\":\"new\"", "\"status\":\"lost\"");
    assert_ne!(tampered, CREATED_BODY);
    for headers in [headers.clone(), without(headers, &[AURA_SIGNATURE])] {
        assert!(matches!(
            verify_sent(tampered.as_bytes(), &headers),
            Err(VerifyError::BadSignature {
                header: WEBHOOK_SIGNATURE
            })
        ));
    }
}

#[test]
fn a_tampered_id_or_timestamp_is_refused() {
    let body = CREATED_BODY.as_bytes();
    for (name, value) in [
        (WEBHOOK_ID, "another-delivery"),
        (WEBHOOK_TIMESTAMP, "1768636801"),
    ] {
        let mut headers = without(signed(SECRET, body), &[AURA_SIGNATURE]);
        headers.insert(name, HeaderValue::from_static(value));
        assert!(matches!(
            verify_sent(body, &headers),
            Err(VerifyError::BadSignature {
                header: WEBHOOK_SIGNATURE
            })
        ));
    }
}

#[test]
fn a_stale_delivery_is_refused() {
    let body = CREATED_BODY.as_bytes();
    let headers = signed(SECRET, body);
    assert!(verify_at(SECRET, body, &headers, at(SENT_AT + 300)).is_ok());
    let error = verify_at(SECRET, body, &headers, at(SENT_AT + 301)).unwrap_err();
    assert!(matches!(
        error,
        VerifyError::Stale {
            age_secs: 301,
            tolerance_secs: 300
        }
    ));
    assert!(error.to_string().contains("301 s behind"), "{error}");
}

#[test]
fn a_delivery_from_the_future_is_refused() {
    let body = CREATED_BODY.as_bytes();
    let headers = signed(SECRET, body);
    assert!(verify_at(SECRET, body, &headers, at(SENT_AT - 300)).is_ok());
    let error = verify_at(SECRET, body, &headers, at(SENT_AT - 3600)).unwrap_err();
    assert!(matches!(
        error,
        VerifyError::Future {
            ahead_secs: 3600,
            tolerance_secs: 300
        }
    ));
    assert!(error.to_string().contains("3600 s ahead"), "{error}");
}

#[test]
fn the_signature_is_checked_before_the_timestamp() {
    // A stale timestamp says nothing until the signature shows it is the server's.
    let body = CREATED_BODY.as_bytes();
    let headers = without(signed(OTHER_SECRET, body), &[AURA_SIGNATURE]);
    assert!(matches!(
        verify_at(SECRET, body, &headers, at(SENT_AT + 86_400)),
        Err(VerifyError::BadSignature { .. })
    ));
}

#[test]
fn verify_uses_the_clock() {
    let body = CREATED_BODY.as_bytes();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh = sign(SECRET, ID, now, body).unwrap().to_header_map();
    assert!(verify(SECRET, body, &fresh).is_ok());
    assert!(matches!(
        verify(SECRET, body, &signed(SECRET, body)),
        Err(VerifyError::Stale { .. })
    ));
}

#[test]
fn a_genuine_delivery_stripped_of_its_standard_headers_is_refused() {
    // The replay: a delivery captured as sent, its three `webhook-*` headers removed so that
    // no timestamp says how old it is, sent again at any time later.
    let body = event_body("lead.updated", "closed");
    let sent = signed(SECRET, &body);
    assert!(verify_sent(&body, &sent).is_ok());
    let stripped = without(sent, &[WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]);
    assert_eq!(stripped.len(), 1);
    for now in [SENT_AT, SENT_AT + 3, SENT_AT + 365 * 86_400] {
        let error = verify_at(SECRET, &body, &stripped, at(now)).unwrap_err();
        assert!(
            matches!(error, VerifyError::AuraSignatureAlone),
            "{error:?}"
        );
        let message = error.to_string();
        for says in ["`X-Aura-Signature`", "`webhook-timestamp`", "replayed"] {
            assert!(message.contains(says), "{message}");
        }
    }
}

#[test]
fn x_aura_signature_beside_the_standard_headers_is_not_read() {
    let body = CREATED_BODY.as_bytes();
    let wrong = sign(OTHER_SECRET, ID, SENT_AT, body).unwrap();
    let cases: [&[&str]; 4] = [
        &[wrong.aura_signature()],
        &["not hex at all"],
        &[&CREATED_AURA.replace('b', "g")],
        &[CREATED_AURA, CREATED_AURA],
    ];
    for values in cases {
        let mut headers = signed(SECRET, body);
        headers.remove(AURA_SIGNATURE);
        for value in values {
            headers.append(AURA_SIGNATURE, HeaderValue::from_str(value).unwrap());
        }
        let result = verify_sent(body, &headers);
        assert!(result.is_ok(), "{values:?}: {result:?}");
    }
}

#[test]
fn a_rotated_secret_verifies_with_the_old_one_too() {
    // A rotation as the server makes it: `webhook-signature` signed with the new and the old
    // secret, `X-Aura-Signature` with the new one only. A receiver that has not switched yet
    // still verifies; with `X-Aura-Signature` checked too, it could not.
    let body = CREATED_BODY.as_bytes();
    let new = sign(OTHER_SECRET, ID, SENT_AT, body).unwrap();
    let old = sign(SECRET, ID, SENT_AT, body).unwrap();
    let mut headers = new.to_header_map();
    let both = format!("{} {}", new.webhook_signature(), old.webhook_signature());
    headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&both).unwrap());
    for secret in [SECRET, OTHER_SECRET] {
        let result = verify_at(secret, body, &headers, at(SENT_AT + 3));
        assert!(result.is_ok(), "{result:?}");
    }
}

#[test]
fn any_of_several_secrets_verifies_and_none_is_refused() {
    let body = CREATED_BODY.as_bytes();
    // Signed with the old secret only (before the rotation), or the new one only (after the
    // overlap): a receiver that holds both verifies either.
    for signer in [SECRET, OTHER_SECRET] {
        let headers = sign(signer, ID, SENT_AT, body).unwrap().to_header_map();
        let result = verify_any_at(&[OTHER_SECRET, SECRET], body, &headers, at(SENT_AT));
        assert!(result.is_ok(), "{result:?}");
    }
    let headers = signed(SECRET, body);
    assert!(matches!(
        verify_any_at(&[OTHER_SECRET], body, &headers, at(SENT_AT)),
        Err(VerifyError::BadSignature { .. })
    ));
    assert!(matches!(
        verify_any_at(&[], body, &headers, at(SENT_AT)),
        Err(VerifyError::MalformedSecret { .. })
    ));
    // Every secret must be well formed, even when another would verify.
    assert!(matches!(
        verify_any_at(&[SECRET, "whsec_short"], body, &headers, at(SENT_AT)),
        Err(VerifyError::MalformedSecret { .. })
    ));
}

#[test]
fn standard_headers_alone_verify() {
    let body = event_body("lead.status_changed", "lost");
    let headers = without(signed(SECRET, &body), &[AURA_SIGNATURE]);
    assert_eq!(headers.len(), 3);
    assert!(matches!(
        verify_sent(&body, &headers),
        Ok(WebhookEvent::StatusChangedEvent(_))
    ));
}

#[test]
fn no_signature_is_refused() {
    let body = CREATED_BODY.as_bytes();
    assert!(matches!(
        verify_sent(body, &HeaderMap::new()),
        Err(VerifyError::MissingSignature)
    ));
}

#[test]
fn standard_headers_come_together() {
    let body = CREATED_BODY.as_bytes();
    for missing in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE] {
        // Even with a valid X-Aura-Signature.
        let headers = without(signed(SECRET, body), &[missing]);
        match verify_sent(body, &headers) {
            Err(VerifyError::MissingHeader { header }) => assert_eq!(header, missing),
            other => panic!("without {missing}: {other:?}"),
        }
    }
}

#[test]
fn a_later_v1_entry_may_match() {
    let body = CREATED_BODY.as_bytes();
    let mut headers = without(signed(SECRET, body), &[AURA_SIGNATURE]);
    let other = sign(OTHER_SECRET, ID, SENT_AT, body).unwrap();
    let entries = format!(
        "v1a,c29tZXRoaW5nIGVsc2U= v1,not*base64 {} {}",
        other.webhook_signature(),
        CREATED_V1
    );
    headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&entries).unwrap());
    assert!(verify_sent(body, &headers).is_ok());

    // Without the matching entry, the others match nothing.
    let entries = format!("v1a,c29tZXRoaW5nIGVsc2U= {}", other.webhook_signature());
    headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&entries).unwrap());
    assert!(matches!(
        verify_sent(body, &headers),
        Err(VerifyError::BadSignature {
            header: WEBHOOK_SIGNATURE
        })
    ));
}

#[test]
fn entries_of_other_versions_alone_are_refused() {
    let body = CREATED_BODY.as_bytes();
    let mut headers = signed(SECRET, body);
    let v2 = CREATED_V1.replace("v1,", "v2,");
    headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&v2).unwrap());
    assert!(matches!(
        verify_sent(body, &headers),
        Err(VerifyError::MalformedHeader {
            header: WEBHOOK_SIGNATURE,
            ..
        })
    ));
}

#[test]
fn a_malformed_secret_is_refused() {
    let body = CREATED_BODY.as_bytes();
    let headers = signed(SECRET, body);
    assert!(verify_sent(body, &headers).is_ok());
    for secret in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM=",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2k!",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM=\n",
        "",
    ] {
        assert!(
            matches!(
                verify_at(secret, body, &headers, at(SENT_AT)),
                Err(VerifyError::MalformedSecret { .. })
            ),
            "{secret:?}"
        );
        assert!(matches!(
            sign(secret, ID, SENT_AT, body),
            Err(VerifyError::MalformedSecret { .. })
        ));
    }
}

#[test]
fn a_signed_body_that_is_not_an_event_is_refused() {
    let not_events: [(&[u8], &str); 6] = [
        (br#"{"test": 2432232314}"#, "no `event` field"),
        (b"[]", "not an object"),
        (b"lead.created", "not JSON"),
        (br#"{"event": 1}"#, "not a string"),
        (
            br#"{"event": "lead.merged", "data": {}}"#,
            "`lead.merged`, not one of",
        ),
        (
            br#"{"event": "lead.created", "created_at": "2026-01-17T08:00:00Z", "data": {"email": "john@example.com"}, "organization_id": "org_2b9Xk4"}"#,
            "schema of `lead.created` events: missing field",
        ),
    ];
    for (body, expected) in not_events {
        match verify_sent(body, &signed(SECRET, body)) {
            Err(error @ VerifyError::NotAnEvent { .. }) => {
                assert!(error.to_string().contains(expected), "{error}");
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn malformed_headers_are_refused() {
    let body = CREATED_BODY.as_bytes();
    let cases: [(&str, &str); 4] = [
        (WEBHOOK_TIMESTAMP, "2026-01-17T08:00:00Z"),
        (WEBHOOK_TIMESTAMP, "+1768636800"),
        (WEBHOOK_ID, ""),
        (
            WEBHOOK_SIGNATURE,
            "jzKoGHQxwuNNQLE550Trs5hh7JWYlwVLhGZ3DB9iJQs=",
        ),
    ];
    for (name, value) in cases {
        let mut headers = signed(SECRET, body);
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        match verify_sent(body, &headers) {
            Err(VerifyError::MalformedHeader { header, .. }) => assert_eq!(header, name),
            other => panic!("{name}: {value:?}: {other:?}"),
        }
    }

    let mut headers = signed(SECRET, body);
    headers.append(WEBHOOK_SIGNATURE, HeaderValue::from_static(CREATED_V1));
    assert!(matches!(
        verify_sent(body, &headers),
        Err(VerifyError::MalformedHeader {
            header: WEBHOOK_SIGNATURE,
            ..
        })
    ));

    // Header names are matched whatever their case.
    let mut headers = HeaderMap::new();
    headers.insert("Webhook-Id", HeaderValue::from_static(ID));
    headers.insert("WEBHOOK-TIMESTAMP", HeaderValue::from_static("1768636800"));
    headers.insert("Webhook-Signature", HeaderValue::from_static(CREATED_V1));
    assert!(verify_sent(body, &headers).is_ok());
}

#[test]
fn sign_refuses_an_id_that_cannot_be_a_header() {
    let body = CREATED_BODY.as_bytes();
    for id in ["", "line\nbreak", "two words", "délivrance"] {
        assert!(matches!(
            sign(SECRET, id, SENT_AT, body),
            Err(VerifyError::MalformedHeader {
                header: WEBHOOK_ID,
                ..
            })
        ));
    }
}

#[test]
fn errors_never_show_the_secret() {
    let key = &SECRET[SECRET_PREFIX.len()..];
    let body = CREATED_BODY.as_bytes();
    let headers = signed(OTHER_SECRET, body);
    let errors = [
        verify_sent(body, &headers).unwrap_err(),
        verify_sent(body, &without(headers.clone(), &[AURA_SIGNATURE])).unwrap_err(),
        verify_at(&SECRET[..20], body, &headers, at(SENT_AT)).unwrap_err(),
        verify_at(&format!(" {SECRET}"), body, &headers, at(SENT_AT)).unwrap_err(),
        verify_sent(body, &HeaderMap::new()).unwrap_err(),
        verify_sent(
            body,
            &without(
                headers.clone(),
                &[WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE],
            ),
        )
        .unwrap_err(),
        verify_at(SECRET, body, &signed(SECRET, body), at(SENT_AT + 999)).unwrap_err(),
    ];
    for error in errors {
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains(key), "{shown}");
            assert!(!shown.contains(&key[..10]), "{shown}");
        }
    }
}
