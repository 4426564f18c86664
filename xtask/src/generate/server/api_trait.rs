//! The `#[dropshot::api_description]` trait: the handlers the server writes, and the
//! endpoints that serve them, one per operation and version range.
//!
//! - A *handler* (`lead_view`) serves an operation in the working spec's version, and in
//!   every release that shares it ([`super::versions`]). An *adapter* (`lead_view_v4_0_0`)
//!   serves it in one release whose contract differs, against that release's types. Both are
//!   plain trait methods the server implements; a missing one fails the build with its name.
//! - An *endpoint* (`serve_lead_view`, `serve_lead_view_v4_0_0`) is provided by the trait:
//!   it is what dropshot registers, for the versions of its range, with the operationId and
//!   documentation of those versions. It hands the request to the server's `serve`, which
//!   refuses a version outside the policy and names the version on the answer, and calls its
//!   handler or adapter.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use super::dispatch::{Dispatch, methods_of};
use super::names::doc_attrs;
use super::operations::Operation;
use super::versions::{Endpoint, Service, Version, header_set};

/// The name of the generated trait.
const TRAIT_NAME: &str = "LeadsApi";

/// The trait, for the served versions (oldest first, the working spec last) and their
/// endpoints.
pub fn api_trait(served: &[Version], endpoints: &[Endpoint]) -> TokenStream {
    let trait_ident = Ident::new(TRAIT_NAME, Span::call_site());
    let Some(newest) = served.last() else {
        return TokenStream::new();
    };
    let handlers = newest.operations.iter().map(|op| {
        let doc = format!(
            " Handles `{}` in version {} and in every release that shares its contract.",
            op.id, newest.number
        );
        handler(
            &Ident::new(&op.id, Span::call_site()),
            &doc,
            &Signature::of(op, newest, newest),
        )
    });
    let adapters = endpoints
        .iter()
        .filter(|endpoint| endpoint.service == Service::Adapted)
        .filter_map(|endpoint| {
            let version = &served[endpoint.first];
            let op = version.operation(&endpoint.operation)?;
            let doc = format!(
                " Handles `{}` in version {}, whose contract differs from version {}'s: an \
                 adapter between {}'s wire types (`{}::types`) and the domain.",
                op.id,
                version.number,
                newest.number,
                version.number,
                version.module()
            );
            Some(handler(
                &adapter_ident(op, version),
                &doc,
                &Signature::of(op, version, newest),
            ))
        });
    let served_endpoints = endpoints
        .iter()
        .filter_map(|endpoint| endpoint_method(served, endpoint));
    let changed_paths = changed_path_methods(served);
    quote! {
        /// The Leads API: for each operation, the handler the server writes (and an adapter
        /// for each release whose contract of it differs), and the endpoints dropshot
        /// registers for each range of served versions.
        #[dropshot::api_description]
        pub trait #trait_ident {
            /// The server's state, shared by every request, which observes each of them.
            type Context: Observed;

            #(#handlers)*

            #(#adapters)*

            #(#served_endpoints)*

            #(#changed_paths)*
        }
    }
}

/// What a handler of an operation takes and answers, in the types of one version.
struct Signature {
    /// `path: PathParams<types::LeadViewPath>, …`
    params: Vec<TokenStream>,
    /// `path, …`
    args: Vec<Ident>,
    /// `PathParams<types::LeadViewPath>, …`
    extractors: Vec<TokenStream>,
    response: TokenStream,
}

impl Signature {
    /// The signature of `op` as `version` documents it; types a release shares with `newest`
    /// come through the release's module, which re-exports them.
    fn of(op: &Operation, version: &Version, newest: &Version) -> Self {
        let types = if std::ptr::eq(version, newest) {
            quote!(types)
        } else {
            let module = format_ident!("{}", version.module());
            quote!(#module::types)
        };
        let mut params = Vec::new();
        let mut args = Vec::new();
        let mut extractors = Vec::new();
        let mut add = |name: &str, extractor: TokenStream, ty: &str| {
            let arg = Ident::new(name, Span::call_site());
            let ty = Ident::new(ty, Span::call_site());
            params.push(quote!(#arg: #extractor<#types::#ty>));
            extractors.push(quote!(#extractor<#types::#ty>));
            args.push(arg);
        };
        if let Some(p) = &op.path_params {
            add("path", quote!(PathParams), &p.type_name);
        }
        if let Some(p) = &op.query_params {
            add("query", quote!(QueryParams), &p.type_name);
        }
        if let Some(p) = &op.header_params {
            add("headers", quote!(HeaderParams), &p.type_name);
        }
        if let Some(body) = &op.body {
            add("body", quote!(JsonBody), body);
        }
        let content = match &op.response {
            Some(name) => {
                let ty = Ident::new(name, Span::call_site());
                quote!(#types::#ty)
            }
            None => quote!(()),
        };
        let mut response = match op.status {
            _ if op.raw => quote!(RawResponse),
            201 => quote!(dropshot::HttpResponseCreated<#content>),
            202 => quote!(dropshot::HttpResponseAccepted<#content>),
            204 => quote!(dropshot::HttpResponseUpdatedNoContent),
            _ => quote!(dropshot::HttpResponseOk<#content>),
        };
        if let Some(set) = header_set(version, &op.id) {
            let headers = Ident::new(&set.name, Span::call_site());
            // A release documenting the same headers as the working spec uses its struct.
            let path = if std::ptr::eq(version, newest)
                || newest
                    .header_sets
                    .iter()
                    .any(|s| s.headers == set.headers && s.name == set.name)
            {
                quote!(#headers)
            } else {
                let module = format_ident!("{}", version.module());
                quote!(#module::#headers)
            };
            response = quote!(dropshot::HttpResponseHeaders<#response, #path>);
        }
        if !op.raw {
            response = quote!(Answer<#response>);
        }
        Self {
            params,
            args,
            extractors,
            response,
        }
    }
}

/// A handler or adapter: a plain method the server implements.
fn handler(ident: &Ident, doc: &str, signature: &Signature) -> TokenStream {
    let Signature {
        params, response, ..
    } = signature;
    quote! {
        #[doc = #doc]
        fn #ident(
            rqctx: dropshot::RequestContext<Self::Context>,
            #(#params,)*
        ) -> impl std::future::Future<Output = Result<#response, ApiError>> + Send;
    }
}

fn adapter_ident(op: &Operation, version: &Version) -> Ident {
    format_ident!("{}_{}", op.id, version.module())
}

/// The endpoint dropshot registers for `endpoint`'s versions.
fn endpoint_method(served: &[Version], endpoint: &Endpoint) -> Option<TokenStream> {
    let newest = served.last()?;
    let first = &served[endpoint.first];
    let documented = served[endpoint.last].operation(&endpoint.operation)?;
    let (signature, target, name) = match endpoint.service {
        Service::Shared => (
            Signature::of(newest.operation(&endpoint.operation)?, newest, newest),
            Ident::new(&endpoint.operation, Span::call_site()),
            if endpoint.last + 1 == served.len() {
                format_ident!("serve_{}", endpoint.operation)
            } else {
                format_ident!("serve_{}_{}", endpoint.operation, first.module())
            },
        ),
        Service::Adapted => {
            let op = first.operation(&endpoint.operation)?;
            (
                Signature::of(op, first, newest),
                adapter_ident(op, first),
                format_ident!("serve_{}_{}", endpoint.operation, first.module()),
            )
        }
    };
    let versions = version_range(served, endpoint.first, endpoint.last);
    let Operation {
        id,
        method,
        path,
        tags,
        doc,
        ..
    } = documented;
    let method = Ident::new(method, Span::call_site());
    let doc = doc_attrs(doc);
    let dispatches = endpoint
        .dispatches
        .iter()
        .map(|dispatch| dispatch_to(newest, dispatch))
        .collect::<Option<Vec<_>>>()?;
    let refusals = endpoint.refusals.iter().map(|refusal| {
        let segment = proc_macro2::Literal::usize_unsuffixed(refusal.segment);
        let (literal, allow) = (&refusal.literal, &refusal.allow);
        quote! {
            if dispatched(&rqctx, #segment, #literal) {
                return method_not_allowed(&rqctx, #allow);
            }
        }
    });
    let unrouted = unrouted_methods(served, endpoint, &name, &versions, &signature);
    let Signature {
        params,
        args,
        response,
        ..
    } = signature;
    Some(quote! {
        #(#unrouted)*
        #doc
        #[endpoint {
            operation_id = #id,
            method = #method,
            path = #path,
            tags = [#(#tags),*],
            versions = #versions,
        }]
        async fn #name(
            rqctx: dropshot::RequestContext<Self::Context>,
            #(#params,)*
        ) -> Result<Served<#response>, ApiError> {
            #(#dispatches)*
            #(#refusals)*
            serve(rqctx, #id, |rqctx| Self::#target(rqctx, #(#args),*)).await
        }
    })
}

/// The `versions` of an endpoint serving `served[first..=last]`.
fn version_range(served: &[Version], first: usize, last: usize) -> TokenStream {
    let from = &served[first].number;
    match served.get(last + 1) {
        _ if first == 0 && last + 1 == served.len() => quote!(..),
        Some(next) => {
            let until = &next.number;
            quote!(#from..#until)
        }
        None => quote!(#from..),
    }
}

/// An unpublished endpoint that answers `method` on `path`, in `versions`, `405 Method Not
/// Allowed` naming `allow` (after `literals`, the refusals of a dispatched literal path).
fn not_allowed_endpoint(
    ident: &Ident,
    method: &str,
    path: &str,
    versions: &TokenStream,
    path_params: &[&TokenStream],
    literals: impl Iterator<Item = TokenStream>,
    allow: &str,
) -> TokenStream {
    let method_ident = Ident::new(method, Span::call_site());
    quote! {
        #[endpoint {
            method = #method_ident,
            path = #path,
            unpublished = true,
            versions = #versions,
        }]
        async fn #ident(
            rqctx: dropshot::RequestContext<Self::Context>,
            #(_path: #path_params,)*
        ) -> Result<Served<Answer<dropshot::HttpResponseOk<()>>>, ApiError> {
            #(#literals)*
            method_not_allowed(&rqctx, #allow)
        }
    }
}

/// The methods dropshot's router would refuse on a path whose methods differ between served
/// versions (`DELETE /v1/leads/{id}` came with 5.1.0): registered, unpublished, for each run
/// of versions with the same methods, so that a `405` names the methods of the version the
/// request is in. dropshot's router names every method registered on the path, in any
/// version, and would otherwise tell a 5.0.0 client that `DELETE` is allowed while answering
/// its `DELETE` `405`. Paths some version dispatches through have their own
/// ([`unrouted_methods`]).
fn changed_path_methods(served: &[Version]) -> Vec<TokenStream> {
    let Some(newest) = served.last() else {
        return Vec::new();
    };
    let mut paths: Vec<&str> = Vec::new();
    for version in served {
        for op in &version.operations {
            if !paths.contains(&op.path.as_str()) {
                paths.push(&op.path);
            }
        }
    }
    let mut endpoints = Vec::new();
    for path in paths {
        let methods: Vec<Vec<&str>> = served
            .iter()
            .map(|version| methods_of(&version.operations, path))
            .collect();
        // Either side of a dispatch: the literal path has no route of its own, and the
        // variable one has its refusals from `unrouted_methods`.
        let dispatching = served.iter().any(|version| {
            version.dispatches.iter().any(|dispatch| {
                [&dispatch.through, &dispatch.operation]
                    .iter()
                    .any(|id| version.operation(id).is_some_and(|op| op.path == path))
            })
        });
        // A path new in a version is not a change: before it, no method is routed there.
        let mut present = methods.iter().filter(|methods| !methods.is_empty());
        let first_present = present.next();
        if dispatching || present.all(|methods| Some(methods) == first_present) {
            continue;
        }
        let mut first = 0;
        while first < served.len() {
            let mut last = first;
            while last + 1 < served.len() && methods[last + 1] == methods[first] {
                last += 1;
            }
            let version = &served[last];
            if let Some(op) = version.operations.iter().find(|op| op.path == path) {
                let signature = Signature::of(op, version, newest);
                let path_params: Vec<&TokenStream> = signature.extractors.iter().take(1).collect();
                let versions = version_range(served, first, last);
                let allow = methods[first].join(", ");
                for method in ROUTER_METHODS
                    .iter()
                    .filter(|method| !methods[first].contains(method))
                {
                    let ident = format_ident!(
                        "serve_{}_{}_{}_not_allowed",
                        op.id,
                        served[first].module(),
                        method.to_lowercase()
                    );
                    endpoints.push(not_allowed_endpoint(
                        &ident,
                        method,
                        path,
                        &versions,
                        &path_params,
                        std::iter::empty(),
                        &allow,
                    ));
                }
            }
            first = last + 1;
        }
    }
    endpoints
}

/// The methods dropshot's router would refuse on the variable path of an operation some
/// version dispatches through: registered here, unpublished, for each range of the
/// operation's endpoints, so that their `405` names the methods of the path the request is
/// for (in a version that dispatches, the literal's for the literal), where dropshot's router
/// would name the variable path's for both.
fn unrouted_methods(
    served: &[Version],
    endpoint: &Endpoint,
    name: &Ident,
    versions: &TokenStream,
    signature: &Signature,
) -> Vec<TokenStream> {
    let version = &served[endpoint.last];
    let Some(op) = version.operation(&endpoint.operation) else {
        return Vec::new();
    };
    let dispatched_through = served.iter().any(|version| {
        version
            .dispatches
            .iter()
            .any(|dispatch| dispatch.through == endpoint.operation)
    });
    if !dispatched_through {
        return Vec::new();
    }
    let registered = methods_of(&version.operations, &op.path);
    let allow_variable = registered.join(", ");
    let path_params: Vec<&TokenStream> = signature.extractors.iter().take(1).collect();
    let path = &op.path;
    ROUTER_METHODS
        .iter()
        .filter(|method| !registered.contains(method))
        .map(|method| {
            let ident = format_ident!("{}_{}_not_allowed", name, method.to_lowercase());
            let literals = endpoint.dispatches.iter().filter_map(|dispatch| {
                let literal_op = version.operation(&dispatch.operation)?;
                let allow = methods_of(&version.operations, &literal_op.path).join(", ");
                let segment = proc_macro2::Literal::usize_unsuffixed(dispatch.segment);
                let literal = &dispatch.literal;
                Some(quote! {
                    if dispatched(&rqctx, #segment, #literal) {
                        return method_not_allowed(&rqctx, #allow);
                    }
                })
            });
            not_allowed_endpoint(
                &ident,
                method,
                path,
                versions,
                &path_params,
                literals,
                &allow_variable,
            )
        })
        .collect()
}

/// Every method dropshot's router routes, by the names its `endpoint` attribute takes.
const ROUTER_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// What an endpoint does first for an operation it serves besides its own: when the path's
/// segment is the literal, it reads that operation's parameters and hands the request to its
/// handler; the answer goes out as that operation's.
fn dispatch_to(newest: &Version, dispatch: &Dispatch) -> Option<TokenStream> {
    let op = newest.operation(&dispatch.operation)?;
    let Signature {
        args, extractors, ..
    } = Signature::of(op, newest, newest);
    let target = Ident::new(&op.id, Span::call_site());
    let id = &op.id;
    let segment = proc_macro2::Literal::usize_unsuffixed(dispatch.segment);
    let literal = &dispatch.literal;
    Some(quote! {
        if dispatched(&rqctx, #segment, #literal) {
            return serve(rqctx, #id, |rqctx| async move {
                #(let #args = shared::<#extractors, _>(&rqctx).await?;)*
                Answer::dispatched(Self::#target(rqctx, #(#args),*).await)
            })
            .await;
        }
    })
}
