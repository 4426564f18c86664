//! Every rule the comparison applies: its stable `kind`, its [`Class`], and the one-line why a
//! report prints. Rules on schemas come in pairs ([`Directed`]): a schema a consumer sends
//! (request) breaks when it narrows, one it reads (response) when it widens.

use super::change::Class::{self, Breaking, Compatible, Documentation};

/// A classification rule.
#[derive(Debug)]
pub struct Rule {
    pub kind: &'static str,
    pub class: Class,
    pub why: &'static str,
}

/// The same difference, judged as something consumers send and as something they read.
#[derive(Debug)]
pub struct Directed {
    pub request: Rule,
    pub response: Rule,
}

macro_rules! rules {
    ($($name:ident: $kind:literal, $class:ident, $why:literal;)*) => {
        $(pub const $name: Rule = Rule { kind: $kind, class: $class, why: $why };)*
        /// Every plain rule: the kinds a waiver may name, and the corpus exercises each.
        pub const PLAIN: &[&Rule] = &[$(&$name),*];
    };
}

macro_rules! directed {
    ($($name:ident: $stem:literal,
        request $request_class:ident $request_why:literal,
        response $response_class:ident $response_why:literal;)*) => {
        $(pub const $name: Directed = Directed {
            request: Rule {
                kind: concat!("request-", $stem),
                class: $request_class,
                why: $request_why,
            },
            response: Rule {
                kind: concat!("response-", $stem),
                class: $response_class,
                why: $response_why,
            },
        };)*
        /// Every directed rule: the kinds a waiver may name, and the corpus exercises each side.
        pub const DIRECTED: &[&Directed] = &[$(&$name),*];
    };
}

rules! {
    // Paths and operations.
    PATH_REMOVED: "path-removed", Breaking,
        "every call old consumers make to this path now fails";
    OPERATION_REMOVED: "operation-removed", Breaking,
        "old consumers still call it, and the server no longer serves it";
    OPERATION_ADDED: "operation-added", Compatible,
        "old consumers do not call it; nothing they call changes";
    OPERATION_ID_CHANGED: "operation-id-changed", Breaking,
        "generated clients name their methods after operationId: code calling the old name no longer compiles";
    DEPRECATION_CHANGED: "deprecation-changed", Compatible,
        "still served as before; deprecation only announces a future removal";
    // Parameters.
    PARAMETER_REMOVED: "parameter-removed", Breaking,
        "old consumers still send it: the server may reject or ignore it, and generated clients lose the argument";
    PARAMETER_ADDED_REQUIRED: "parameter-added-required", Breaking,
        "old consumers do not send it, so their requests are now rejected";
    PARAMETER_ADDED: "parameter-added", Compatible,
        "it is optional: old requests without it stay valid";
    PARAMETER_BECAME_REQUIRED: "parameter-became-required", Breaking,
        "old consumers that leave it out are now rejected";
    PARAMETER_BECAME_OPTIONAL: "parameter-became-optional", Compatible,
        "old consumers send it anyway, which stays valid";
    // Request bodies.
    REQUEST_BODY_ADDED_REQUIRED: "request-body-added-required", Breaking,
        "old consumers send no body, so their requests are now rejected";
    REQUEST_BODY_ADDED: "request-body-added", Compatible,
        "it is optional: old requests without a body stay valid";
    REQUEST_BODY_REMOVED: "request-body-removed", Breaking,
        "old consumers send a body the operation no longer takes";
    REQUEST_BODY_BECAME_REQUIRED: "request-body-became-required", Breaking,
        "old consumers that send no body are now rejected";
    REQUEST_BODY_BECAME_OPTIONAL: "request-body-became-optional", Compatible,
        "old consumers send a body anyway, which stays valid";
    REQUEST_MEDIA_TYPE_REMOVED: "request-media-type-removed", Breaking,
        "old consumers sending this content type are now rejected";
    REQUEST_MEDIA_TYPE_ADDED: "request-media-type-added", Compatible,
        "old consumers keep sending the content types they used";
    // Security.
    SECURITY_ADDED: "security-added", Breaking,
        "old consumers call it without credentials and are now answered 401";
    SECURITY_REMOVED: "security-removed", Compatible,
        "credentials old consumers send are no longer needed, and harmless";
    SECURITY_ALTERNATIVE_ADDED: "security-alternative-added", Compatible,
        "every way old consumers authenticate still works";
    SECURITY_CHANGED: "security-changed", Breaking,
        "the credentials old consumers send may no longer satisfy the requirement";
    SECURITY_SCHEME_CHANGED: "security-scheme-changed", Breaking,
        "how old consumers present credentials no longer matches the scheme";
    // Responses.
    SUCCESS_STATUS_REMOVED: "success-status-removed", Breaking,
        "old consumers expect this success status and treat any other as unexpected";
    SUCCESS_STATUS_CHANGED: "success-status-changed", Breaking,
        "old consumers (and generated clients) treat the new success status as an unexpected response";
    SUCCESS_STATUS_ADDED: "success-status-added", Breaking,
        "generated clients treat a success status they were not built with as an unexpected response";
    SUCCESS_STATUS_ADDED_FOR_NEW_PARAMETER: "success-status-added-for-new-parameter", Compatible,
        "only a request that sends a parameter new in this version gets it (x-only-when-sent), and old consumers cannot send one";
    ERROR_STATUS_ADDED: "error-status-added", Compatible,
        "it uses the error envelope old consumers already handle for any error";
    ERROR_STATUS_REMOVED: "error-status-removed", Compatible,
        "old consumers simply stop seeing one of the errors they handle";
    ERROR_ENVELOPE_CHANGED: "error-envelope-changed", Breaking,
        "every error answer of every operation is parsed into this envelope: any change reaches all consumers' error handling";
    ERROR_ENVELOPE_PROPERTY_ADDED: "error-envelope-property-added", Compatible,
        "each version answers errors in its own envelope, which leaves out what that version's lacks: only consumers of this version, built with the property, receive it";
    ERROR_ENVELOPE_REPLACED: "error-envelope-replaced", Breaking,
        "old consumers parse every error answer with the error envelope, which this answer no longer uses";
    RESPONSE_MEDIA_TYPE_REMOVED: "response-media-type-removed", Breaking,
        "old consumers ask for and parse this content type, which is no longer answered";
    RESPONSE_MEDIA_TYPE_ADDED: "response-media-type-added", Compatible,
        "old consumers keep receiving the content types they ask for";
    RESPONSE_HEADER_ADDED: "response-header-added", Compatible,
        "old consumers do not read it";
    RESPONSE_HEADER_REMOVED: "response-header-removed", Breaking,
        "old consumers may read this documented header, which is no longer sent";
    RESPONSE_HEADER_BECAME_OPTIONAL: "response-header-became-optional", Breaking,
        "old consumers may rely on a header that may now be missing";
    RESPONSE_HEADER_BECAME_REQUIRED: "response-header-became-required", Compatible,
        "old consumers already handle the header being there";
    // Components and the document.
    COMPONENT_ADDED: "component-added", Compatible,
        "no operation old consumers call used it";
    COMPONENT_REMOVED: "component-removed", Compatible,
        "the operations that used it are compared on their own; generated clients drop the type";
    // Documentation.
    DESCRIPTION_CHANGED: "description-changed", Documentation,
        "prose only: nothing sent or received changes";
    SUMMARY_CHANGED: "summary-changed", Documentation,
        "prose only: nothing sent or received changes";
    TITLE_CHANGED: "title-changed", Documentation,
        "a title names a schema for readers and tools; values do not change";
    EXAMPLE_CHANGED: "example-changed", Documentation,
        "examples illustrate; they do not constrain what is sent or received";
    EXTERNAL_DOCS_CHANGED: "external-docs-changed", Documentation,
        "a link for readers: nothing sent or received changes";
    EXTENSION_CHANGED: "extension-changed", Documentation,
        "x- extensions are for tools, not part of the wire contract";
    EXTENSIBILITY_CHANGED: "extensibility-changed", Documentation,
        "x-extensible says whether later versions may add values to the enum; nothing sent or received changes now (values added while it is marked are compatible)";
    INFO_CHANGED: "info-changed", Documentation,
        "contact and license details do not change the wire contract";
    TAGS_CHANGED: "tags-changed", Documentation,
        "tags group operations for readers; requests and responses do not change";
    TAGS_REORDERED: "tags-reordered", Documentation,
        "only the order in which readers see tags changes";
    ENUM_REORDERED: "enum-reordered", Documentation,
        "the same values are allowed; only their listed order changes";
    // The safety net.
    UNCLASSIFIED: "unclassified", Breaking,
        "no rule classifies this difference, so it is taken as breaking until one does";
}

directed! {
    TYPE_CHANGED: "type-changed",
        request Breaking "values old consumers send are of the old type and may be rejected",
        response Breaking "old consumers parse the old type and may fail on the new one";
    FORMAT_CHANGED: "format-changed",
        request Breaking "values old consumers send in the old format may be rejected",
        response Breaking "old consumers (and generated types) parse the old format and may fail";
    PROPERTY_REMOVED: "property-removed",
        request Breaking "old consumers still send it: a closed schema rejects it, an open one drops what they meant",
        response Breaking "old consumers read it: a required field is missing from what they parse, an optional one never comes";
    PROPERTY_ADDED_REQUIRED: "property-added-required",
        request Breaking "old consumers do not send it, so their requests are now rejected",
        response Compatible "old consumers do not read it; lenient parsers ignore unknown fields";
    PROPERTY_ADDED: "property-added",
        request Compatible "it is optional: old requests without it stay valid",
        response Compatible "old consumers do not read it; lenient parsers ignore unknown fields";
    PROPERTY_BECAME_REQUIRED: "property-became-required",
        request Breaking "old consumers that leave it out are now rejected",
        response Compatible "old consumers already handle it being there";
    PROPERTY_BECAME_OPTIONAL: "property-became-optional",
        request Compatible "old consumers send it anyway, which stays valid",
        response Breaking "old consumers (and generated structs) require it and fail when it is missing";
    NULLABLE_REMOVED: "nullable-removed",
        request Breaking "old consumers may send null, which is now rejected",
        response Compatible "old consumers handle null and now simply never see it";
    NULLABLE_ADDED: "nullable-added",
        request Compatible "old consumers never send null; what they send stays valid",
        response Breaking "old consumers (and generated non-Option fields) fail on a null they never expected";
    ENUM_VALUE_REMOVED: "enum-value-removed",
        request Breaking "old consumers may still send the value, which is now rejected",
        response Compatible "old consumers know the value and now simply never receive it";
    ENUM_VALUE_ADDED: "enum-value-added",
        request Compatible "old consumers send only the old values, which stay valid",
        response Breaking "clients whose enums reject unknown values, like our generated Rust client (progenitor/serde), fail on it; lenient clients are unaffected";
    EXTENSIBLE_ENUM_VALUE_ADDED: "extensible-enum-value-added",
        request Compatible "old consumers send only the old values, which stay valid",
        response Compatible "the enum was marked x-extensible in the old version: its consumers accept values they do not know (the Rust client reads them as Unknown)";
    ENUM_ADDED: "enum-added",
        request Breaking "only the listed values are now accepted; other values old consumers send are rejected",
        response Compatible "old consumers handled any value and now receive only listed ones";
    ENUM_REMOVED: "enum-removed",
        request Compatible "any value is now accepted, including all old consumers send",
        response Breaking "old consumers (and generated enums) accept only the listed values, and may now receive others";
    CONSTRAINT_NARROWED: "constraint-narrowed",
        request Breaking "values old consumers send within the old bound may now be rejected",
        response Compatible "old consumers accept everything the narrower bound still allows";
    CONSTRAINT_WIDENED: "constraint-widened",
        request Compatible "everything old consumers send is still within the wider bound",
        response Breaking "old consumers (and generated types that validate bounds) may reject values past the old bound";
    PATTERN_ADDED: "pattern-added",
        request Breaking "values old consumers send may not match the new pattern",
        response Compatible "old consumers accepted any string and still do";
    PATTERN_CHANGED: "pattern-changed",
        request Breaking "whether one regular expression accepts all another does is undecidable in general, so any new pattern may reject what old consumers send",
        response Breaking "whether one regular expression accepts only what another does is undecidable in general, so old consumers (and generated types that validate patterns) may reject new values";
    PATTERN_REMOVED: "pattern-removed",
        request Compatible "any string is now accepted, including all old consumers send",
        response Breaking "old consumers (and generated types that validate patterns) may reject values the old pattern excluded";
    ADDITIONAL_PROPERTIES_CLOSED: "additional-properties-closed",
        request Breaking "old consumers may send keys the schema does not list, which are now rejected",
        response Compatible "old consumers already handle the listed keys only";
    ADDITIONAL_PROPERTIES_OPENED: "additional-properties-opened",
        request Compatible "what old consumers send stays valid",
        response Breaking "old consumers (and generated structs that deny unknown fields) may fail on keys the schema does not list";
    COMPOSITION_CHANGED: "composition-changed",
        request Breaking "allOf/anyOf/oneOf lists changed in shape: they are compared position by position only, so this is taken as breaking",
        response Breaking "allOf/anyOf/oneOf lists changed in shape: they are compared position by position only, so this is taken as breaking";
    DEFAULT_CHANGED: "default-changed",
        request Breaking "old consumers that leave the field out now get a different value applied",
        response Compatible "a default in a response only documents what the server fills in";
}
