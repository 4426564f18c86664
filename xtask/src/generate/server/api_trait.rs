//! The `#[dropshot::api_description]` trait: one method per operation, written against the
//! server's own extractors and error type.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::headers::HeaderSet;
use super::names::doc_attrs;
use super::operations::Operation;

/// The name of the generated trait.
const TRAIT_NAME: &str = "LeadsApi";

/// The trait: one method per operation, named by its operationId.
pub fn api_trait(operations: &[Operation], header_sets: &[HeaderSet]) -> TokenStream {
    let trait_ident = Ident::new(TRAIT_NAME, Span::call_site());
    let methods = operations.iter().map(|op| {
        let ident = Ident::new(&op.id, Span::call_site());
        let method = Ident::new(&op.method, Span::call_site());
        let path = &op.path;
        let tags = &op.tags;
        let doc = doc_attrs(&op.doc);
        let path_arg = op.path_params.as_ref().map(|params| {
            let ty = Ident::new(&params.type_name, Span::call_site());
            quote!(path: PathParams<types::#ty>,)
        });
        let query_arg = op.query_params.as_ref().map(|params| {
            let ty = Ident::new(&params.type_name, Span::call_site());
            quote!(query: QueryParams<types::#ty>,)
        });
        let header_arg = op.header_params.as_ref().map(|params| {
            let ty = Ident::new(&params.type_name, Span::call_site());
            quote!(headers: HeaderParams<types::#ty>,)
        });
        let body_arg = op.body.as_ref().map(|body| {
            let ty = Ident::new(body, Span::call_site());
            quote!(body: JsonBody<types::#ty>,)
        });
        let content = match &op.response {
            Some(name) => {
                let ty = Ident::new(name, Span::call_site());
                quote!(types::#ty)
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
        if let Some(set) = header_sets
            .iter()
            .find(|set| set.operations.contains(&op.id))
        {
            let headers = Ident::new(&set.name, Span::call_site());
            response = quote!(dropshot::HttpResponseHeaders<#response, #headers>);
        }
        if !op.raw {
            response = quote!(Answer<#response>);
        }
        quote! {
            #doc
            #[endpoint { method = #method, path = #path, tags = [#(#tags),*] }]
            async fn #ident(
                rqctx: dropshot::RequestContext<Self::Context>,
                #path_arg
                #query_arg
                #header_arg
                #body_arg
            ) -> Result<#response, ApiError>;
        }
    });
    quote! {
        /// The Leads API: one method per operation of the spec, named by its operationId.
        #[dropshot::api_description]
        pub trait #trait_ident {
            /// The server's state, shared by every request.
            type Context: Send + Sync + 'static;

            #(#methods)*
        }
    }
}
