//! Golden tests of the generators, in the manner of progenitor's `test_output.rs`: one small
//! spec per construct under `fixtures/` (what the generator refuses under
//! `fixtures/refused/`), and what the generator makes of it (the code, or the error message)
//! pinned as an insta snapshot under `snapshots/`. Review a change with `cargo insta review`.
//!
//! The accepted fixtures also pass `cargo xtask lint`: the generators are defined for linted
//! specs only.

use std::path::Path;

use serde_json::Value;

use leads_spec::SPEC_PATH;

use super::{client, server};
use crate::lint;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/generate/fixtures")
        .join(format!("{name}.yaml"));
    leads_spec::load(&path).unwrap_or_else(|error| panic!("fixture {name}: {error:#}"))
}

/// A fixture the generators accept: it lints clean.
fn accepted(name: &str) -> Value {
    let spec = fixture(name);
    let problems: Vec<String> = lint::lint(&spec).iter().map(ToString::to_string).collect();
    assert!(
        problems.is_empty(),
        "fixture {name}:\n{}",
        problems.join("\n")
    );
    spec
}

/// `server_output!(test, "fixture")`: the server generated from the fixture, snapshotted.
macro_rules! server_output {
    ($($test:ident => $fixture:literal,)*) => {$(
        #[test]
        fn $test() {
            let generated = server::generate(&accepted($fixture), &[]).expect("the fixture generates");
            insta::assert_snapshot!(generated.contents);
        }
    )*};
}

/// `server_refusal!(test, "fixture")`: the server generator's error for the fixture,
/// snapshotted with its context (where in the spec).
macro_rules! server_refusal {
    ($($test:ident => $fixture:literal,)*) => {$(
        #[test]
        fn $test() {
            let spec = fixture(concat!("refused/", $fixture));
            let Err(error) = server::generate(&spec, &[]) else {
                panic!("the generator accepted fixtures/refused/{}.yaml", $fixture);
            };
            insta::assert_snapshot!(format!("{error:#}"));
        }
    )*};
}

server_output! {
    server_path_params => "path_params",
    server_query_params => "query_params",
    server_json_body => "json_body",
    server_success_statuses => "success_statuses",
    server_response_headers => "response_headers",
    server_enums => "enums",
    server_nullable => "nullable",
    server_open_object => "open_object",
    server_raw_json => "raw_json",
    server_patterns => "patterns",
    server_raw_responses => "raw_responses",
    server_header_params => "header_params",
}

server_refusal! {
    refused_two_successes => "two_successes",
    refused_cookie_parameter => "cookie_parameter",
    refused_inline_body_schema => "inline_body_schema",
    refused_two_media_types => "two_media_types",
    refused_raw_created => "raw_created",
    refused_redirect => "redirect",
    refused_renamed_component => "renamed_component",
    refused_inline_header => "inline_header",
    refused_unrelated_headers => "unrelated_headers",
    refused_clashing_header_sets => "clashing_header_sets",
    refused_array_header => "array_header",
    refused_undispatchable => "undispatchable",
}

/// A working spec that serves a release besides itself: one endpoint for the operation both
/// share word for word, one handler but an endpoint per version for the one whose text
/// changed, an adapter for the one whose contract changed, the extensible enum that grew
/// shared, the schema whose shape changed given a type of the release's own, and an operation
/// new in the working spec dispatched through another's endpoint, whose range splits there.
#[test]
fn server_versions() {
    let release = server::Release {
        version: "1.0.0".into(),
        spec: accepted("versions_released"),
        source: "openapi/released/1.0.0.yaml".into(),
        deprecated: Some("2027-01-01".into()),
        sunset: Some("2027-06-30".into()),
    };
    let generated =
        server::generate(&accepted("versions"), &[release]).expect("the fixtures generate");
    let code = &generated.contents;
    for expected in [
        r#"versions = "1.0.0".."2.0.0","#,
        r#"versions = "2.0.0"..,"#,
        "fn thing_create_v1_0_0(",
        "async fn serve_thing_list_v1_0_0(",
        "Self::thing_list(rqctx)",
        "Self::thing_create_v1_0_0(rqctx, body)",
        "JsonBody<v1_0_0::types::Thing>",
        // `thing_recent`, new in 2.0.0, is served by `thing_view`'s endpoint of 2.0.0.
        r#"dispatched: &["thing_recent"],"#,
        r#"if dispatched(&rqctx, 1, "recent") {"#,
        "QueryParams<types::ThingRecentQuery>,",
        "Answer::dispatched(Self::thing_recent(rqctx, query).await)",
    ] {
        assert!(code.contains(expected), "{expected} is missing:\n{code}");
    }
    assert!(
        !code.contains("fn serve_thing_recent"),
        "a dispatched operation has no endpoint of its own"
    );
    assert_eq!(
        code.matches("Answer::dispatched(").count(),
        1,
        "only thing_view's endpoint of 2.0.0 dispatches"
    );
    // The methods `/things/{id}` lacks are routed too, unpublished, in both ranges, so that
    // `/things/recent` names its own methods when refusing one.
    for expected in [
        "async fn serve_thing_view_put_not_allowed(",
        "async fn serve_thing_view_v1_0_0_put_not_allowed(",
        "unpublished = true,",
        r#"return method_not_allowed(&rqctx, "GET");"#,
    ] {
        assert!(code.contains(expected), "{expected} is missing:\n{code}");
    }
    // `DELETE /things` is new in 2.0.0: in 1.0.0 it is refused, and every refusal of the
    // path names the methods of the version the request is in.
    for expected in [
        "async fn serve_thing_list_v1_0_0_delete_not_allowed(",
        r#"method_not_allowed(&rqctx, "GET, POST")"#,
        "async fn serve_thing_list_v2_0_0_put_not_allowed(",
        r#"method_not_allowed(&rqctx, "DELETE, GET, POST")"#,
    ] {
        assert!(code.contains(expected), "{expected} is missing:\n{code}");
    }
    assert!(
        !code.contains("fn serve_thing_list_v2_0_0_delete_not_allowed("),
        "2.0.0 serves DELETE"
    );
    assert!(
        !code.contains("fn thing_view_v1_0_0("),
        "thing_view is shared"
    );
    assert!(
        !code.contains("fn thing_list_v1_0_0("),
        "thing_list needs no adapter"
    );
    let release_types = code
        .split("pub mod v1_0_0 {")
        .nth(1)
        .and_then(|rest| rest.split("pub trait LeadsApi").next())
        .unwrap_or_default();
    assert!(
        release_types.contains("pub struct Thing {"),
        "1.0.0 keeps its own Thing"
    );
    assert!(
        !release_types.contains("pub enum Status {"),
        "Status grew: shared"
    );
    insta::assert_snapshot!(generated.contents);
}

/// The client's own behaviour: the builder of an open object starts with no extra keys; the
/// client carries a retry policy, sends through its own hooks, and is built as before.
#[test]
fn client_open_object() {
    let generated = client::generate(
        &accepted("open_object"),
        client::PATH,
        SPEC_PATH,
        client::Sending::WithRetries,
    )
    .expect("the fixture generates");
    assert!(
        !generated.contents.contains("no value supplied for extra"),
        "the builder of an open object demands its extra keys"
    );
    assert!(
        generated
            .contents
            .contains("pub fn new_with_client(baseurl: &str, client: reqwest::Client) -> Self"),
        "the constructors take the retry policy"
    );
    insta::assert_snapshot!(generated.contents);
}

/// An enum marked `x-extensible` takes a catch-all variant, is no longer `Copy`, and shows an
/// unknown value as sent; an enum not marked stays closed.
#[test]
fn client_extensible_enums() {
    let generated = client::generate(
        &accepted("extensible_enums"),
        client::PATH,
        SPEC_PATH,
        client::Sending::Plain,
    )
    .expect("the fixture generates");
    let code = &generated.contents;
    assert_eq!(
        code.matches("Unknown(UnknownValue)").count(),
        1,
        "Status only: {code}"
    );
    assert!(code.contains("Self::Unknown(ref value) => f.write_str(value.as_str())"));
    assert!(code.contains("pub struct UnknownValue(::std::string::String);"));
    let types = code
        .split("pub enum ")
        .skip(1)
        .map(|rest| rest.split_once(' ').map_or("", |(name, _)| name));
    assert_eq!(types.collect::<Vec<_>>(), ["Size", "Status"]);
    insta::assert_snapshot!(generated.contents);
}
