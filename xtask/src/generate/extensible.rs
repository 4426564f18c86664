//! Extensible enums in the client: a component schema with `enum` and `x-extensible: true`
//! may gain values in a minor version, and the client's type for it accepts values it does
//! not know.
//!
//! typify makes a closed Rust enum of every string enum, and serde refuses a value the enum
//! does not list, so one new value would make a deployed client fail to read a whole answer.
//! For each extensible schema this pass adds a last variant, `Unknown(UnknownValue)`, marked
//! `#[serde(untagged)]` so that a string none of the named variants matches lands in it,
//! with an arm in the enum's `Display`; and, once, the type `UnknownValue`, which only
//! deserialization makes. A program can read an unknown value but cannot build one, so what
//! it sends stays one of the values it knows (`FromStr` and `TryFrom` stay strict too).
//! The variant holds a string, so the enum is no longer `Copy`.

use std::collections::BTreeSet;

use leads_spec::EXTENSIBLE;
use serde_json::Value;
use syn::visit_mut::VisitMut;

/// The names of the component schemas of `spec` marked extensible.
pub fn marked(spec: &Value) -> BTreeSet<String> {
    spec.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, schema)| schema.get(EXTENSIBLE) == Some(&Value::Bool(true)))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Opens the enums named in `extensible`, and adds `UnknownValue` to the module `types` if
/// any was opened.
pub fn open_enums(file: &mut syn::File, extensible: &BTreeSet<String>) {
    if extensible.is_empty() {
        return;
    }
    let mut opener = Opener {
        extensible,
        opened: 0,
    };
    opener.visit_file_mut(file);
    if opener.opened > 0 {
        add_unknown_value(file);
    }
}

struct Opener<'a> {
    extensible: &'a BTreeSet<String>,
    opened: usize,
}

impl Opener<'_> {
    fn names(&self, ident: &syn::Ident) -> bool {
        self.extensible.contains(&ident.to_string())
    }
}

impl VisitMut for Opener<'_> {
    fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
        if !self.names(&item.ident) || item.variants.iter().any(|v| !v.fields.is_empty()) {
            return;
        }
        for attr in &mut item.attrs {
            drop_copy(attr);
        }
        item.variants.push(syn::parse_quote! {
            /// A value this version of the client does not know, which a later version of
            /// the API may send.
            #[serde(untagged)]
            Unknown(UnknownValue)
        });
        self.opened += 1;
    }

    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let is_display = item
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last())
            .is_some_and(|segment| segment.ident == "Display");
        let ty_named = match &*item.self_ty {
            syn::Type::Path(path) => path.path.get_ident().is_some_and(|ident| self.names(ident)),
            _ => false,
        };
        if is_display && ty_named {
            DisplayUnknown.visit_item_impl_mut(item);
        }
    }
}

/// Adds the unknown value's arm to the `match *self` of a `Display` impl.
struct DisplayUnknown;

impl VisitMut for DisplayUnknown {
    fn visit_expr_match_mut(&mut self, expr: &mut syn::ExprMatch) {
        expr.arms.push(syn::parse_quote! {
            Self::Unknown(ref value) => f.write_str(value.as_str()),
        });
    }
}

/// Removes `Copy` from a `#[derive(…)]`.
fn drop_copy(attr: &mut syn::Attribute) {
    if !attr.path().is_ident("derive") {
        return;
    }
    let Ok(paths) = attr.parse_args_with(
        syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
    ) else {
        return;
    };
    let kept: syn::punctuated::Punctuated<syn::Path, syn::Token![,]> = paths
        .into_iter()
        .filter(|path| path.segments.last().is_none_or(|s| s.ident != "Copy"))
        .collect();
    *attr = syn::parse_quote!(#[derive(#kept)]);
}

/// Adds `UnknownValue` to the module `types`.
fn add_unknown_value(file: &mut syn::File) {
    let items: Vec<syn::Item> = vec![
        syn::parse_quote! {
            /// A value of an extensible enum that this version of the client does not know
            /// (the spec marks such enums `x-extensible`). It is made only by reading an
            /// answer, so a request never sends one the client did not read.
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
            #[serde(transparent)]
            pub struct UnknownValue(::std::string::String);
        },
        syn::parse_quote! {
            impl UnknownValue {
                /// The value as the server sent it.
                pub fn as_str(&self) -> &str {
                    &self.0
                }
            }
        },
    ];
    for item in &mut file.items {
        if let syn::Item::Mod(module) = item
            && module.ident == "types"
            && let Some((_, content)) = &mut module.content
        {
            content.extend(items);
            return;
        }
    }
}
