//! Derives for task properties, so a task's schema is written once: the struct serde reads is
//! also the documentation `runner plugins` prints and the list validation checks names against.
//!
//! - `#[derive(Properties)]` on a struct of named fields implements
//!   `runner_core::plugin::Properties`: one `PropDoc` per field, named as serde names it
//!   (`rename_all`, `rename`), documented by the field's `///` comment (required: an undocumented
//!   property does not compile), required unless it is an `Option` or has a serde `default`,
//!   dynamic when it is a `Property<T>`, typed by `PropType` of the inner type.
//!   `#[serde(flatten)]` fields contribute their own properties. Field attributes:
//!   `#[prop(type = "...")]` names the type, `#[prop(dynamic)]` marks a value the task renders
//!   itself, `#[prop(tasks)]` / `#[prop(task_map)]` mark a task list or a map of task lists (with
//!   `#[serde(skip)]`; add `required` when it must not be empty); `#[serde(skip)]` alone hides
//!   a field that is not a property; `#[prop(secret)]` marks a credential (a password, a key,
//!   a token): its rendered value is masked everywhere and `runner plugins` says so (the field
//!   implements `Seal`: a `Property`, an `Option` of one, or a group of options that seals its
//!   own credential fields).
//! - `#[derive(PropType)]` on an enum implements `runner_core::plugin::PropType` with the
//!   variants as serde names them (`STORE|FETCH|NONE`), or with `#[prop(type = "...")]`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DeriveInput, Error, Expr, Fields, GenericArgument, Lit, LitStr, Meta,
    PathArguments, Type, parse_macro_input,
};

#[proc_macro_derive(Properties, attributes(prop))]
pub fn derive_properties(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    properties(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

#[proc_macro_derive(PropType, attributes(prop))]
pub fn derive_prop_type(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    prop_type(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// What serde's attributes on one item say, as far as names and presence go.
#[derive(Default)]
struct Serde {
    rename: Option<String>,
    rename_all: Option<String>,
    default: bool,
    flatten: bool,
    skip: bool,
    untagged: bool,
    /// `with` or `deserialize_with`: the field's type does not say how it is read.
    custom: bool,
}

fn serde_attrs(attrs: &[Attribute]) -> syn::Result<Serde> {
    let mut out = Serde::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string);
            match key.as_deref() {
                Some("rename") if meta.input.peek(syn::Token![=]) => {
                    out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
                }
                Some("rename_all") if meta.input.peek(syn::Token![=]) => {
                    out.rename_all = Some(meta.value()?.parse::<LitStr>()?.value());
                }
                Some("default") => {
                    out.default = true;
                    skip_value(&meta)?;
                }
                Some("flatten") => out.flatten = true,
                Some("skip") | Some("skip_deserializing") => out.skip = true,
                Some("untagged") => out.untagged = true,
                Some("with") | Some("deserialize_with") => {
                    out.custom = true;
                    skip_value(&meta)?;
                }
                Some("alias") => {
                    return Err(meta.error(
                        "serde aliases are not documented: name the old spelling as its own \
                         property or keep one name",
                    ));
                }
                _ => skip_value(&meta)?,
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Consumes `= value` or `(...)` after a serde key we do not read.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Lit>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_value(&inner))?;
    }
    Ok(())
}

/// Our own `#[prop(...)]` attribute.
#[derive(Default)]
struct Prop {
    type_doc: Option<String>,
    dynamic: bool,
    tasks: bool,
    task_map: bool,
    dag: bool,
    required: bool,
    secret: bool,
}

fn prop_attrs(attrs: &[Attribute]) -> syn::Result<Prop> {
    let mut out = Prop::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("prop")) {
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string);
            match key.as_deref() {
                Some("type") => out.type_doc = Some(meta.value()?.parse::<LitStr>()?.value()),
                Some("dynamic") => out.dynamic = true,
                Some("tasks") => out.tasks = true,
                Some("task_map") => out.task_map = true,
                Some("dag") => out.dag = true,
                Some("required") => out.required = true,
                Some("secret") => out.secret = true,
                _ => {
                    return Err(meta.error(
                        "expected `type = \"...\"`, `dynamic`, `tasks`, `task_map`, `dag`, `required` or `secret`",
                    ));
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// The `///` comment of an item, lines joined with spaces, blank lines kept as breaks.
fn doc(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if let Meta::NameValue(nv) = &attr.meta
            && nv.path.is_ident("doc")
            && let Expr::Lit(lit) = &nv.value
            && let Lit::Str(s) = &lit.lit
        {
            lines.push(s.value().trim().to_string());
        }
    }
    let mut out = String::new();
    for line in lines {
        if line.is_empty() {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
        } else {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push(' ');
            }
            out.push_str(&line);
        }
    }
    out.trim_end().to_string()
}

/// The single generic argument of `Name<T>` when `ty` is that path type.
fn unwrap_generic<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

fn properties(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(
            input.span(),
            "Properties is derived for structs of named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(Error::new(
            input.span(),
            "Properties is derived for structs of named fields",
        ));
    };
    let container = serde_attrs(&input.attrs)?;
    let mut docs = Vec::new();
    let mut takes = Vec::new();
    let mut checks = Vec::new();
    let mut flattened = Vec::new();
    let mut seals = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named fields have names");
        let serde = serde_attrs(&field.attrs)?;
        let prop = prop_attrs(&field.attrs)?;
        let ty = &field.ty;
        if serde.flatten {
            docs.push(quote! {
                <#ty as ::runner_core::plugin::Properties>::docs(out);
            });
            takes.push(quote! {
                ::runner_core::plugin::Properties::take_tasks(&mut self.#ident, lists);
            });
            seals.push(quote! {
                ::runner_core::plugin::Properties::seal(&mut self.#ident);
            });
            flattened.push(quote! {
                if let ::std::option::Option::Some(r) =
                    <#ty as ::runner_core::plugin::Properties>::check_property(name, value)
                {
                    return ::std::option::Option::Some(r);
                }
            });
            continue;
        }
        let raw = ident.to_string();
        let raw = raw.strip_prefix("r#").unwrap_or(&raw);
        let name = match &serde.rename {
            Some(n) => n.clone(),
            None => rename_field(raw, container.rename_all.as_deref(), field.span())?,
        };
        let is_list = prop.tasks || prop.task_map || prop.dag;
        if serde.skip && !is_list {
            continue;
        }
        if is_list && !serde.skip {
            return Err(Error::new(
                field.span(),
                "a task list is read by the validator, not by serde: add #[serde(skip)]",
            ));
        }
        let text = doc(&field.attrs);
        if text.is_empty() {
            return Err(Error::new(
                field.span(),
                format!("property `{name}` needs a `///` comment: it is the user's documentation"),
            ));
        }
        if is_list {
            let (kind, take) = if prop.tasks {
                (
                    quote!(::runner_core::plugin::PropKind::Tasks),
                    quote!(lists.tasks(#name)),
                )
            } else if prop.dag {
                (
                    quote!(::runner_core::plugin::PropKind::Dag),
                    quote!(lists.tasks(#name)),
                )
            } else {
                (
                    quote!(::runner_core::plugin::PropKind::TaskMap),
                    quote!(lists.task_map(#name)),
                )
            };
            if prop.secret {
                return Err(Error::new(field.span(), "a task list cannot be a secret"));
            }
            let required = prop.required;
            docs.push(quote! {
                out.push(::runner_core::plugin::PropDoc {
                    name: #name,
                    kind: #kind,
                    required: #required,
                    dynamic: false,
                    secret: false,
                    doc: #text,
                });
            });
            takes.push(quote! { self.#ident = #take; });
            continue;
        }
        let (optional, inner) = match unwrap_generic(ty, "Option") {
            Some(t) => (true, t),
            None => (false, ty),
        };
        let (dynamic, inner) = match unwrap_generic(inner, "Property") {
            Some(t) => (true, t),
            None => (prop.dynamic, inner),
        };
        let required = !optional && !serde.default && !container.default;
        if !serde.custom {
            checks.push(quote! {
                #name => ::std::option::Option::Some(::runner_core::plugin::check_value::<#ty>(value)),
            });
        }
        let type_doc = match &prop.type_doc {
            Some(t) => quote!(#t),
            None => quote!(<#inner as ::runner_core::plugin::PropType>::NAME),
        };
        let secret = prop.secret;
        if secret {
            seals.push(quote! {
                ::runner_core::plugin::Seal::seal(&mut self.#ident);
            });
        }
        docs.push(quote! {
            out.push(::runner_core::plugin::PropDoc {
                name: #name,
                kind: ::runner_core::plugin::PropKind::Value(#type_doc),
                required: #required,
                dynamic: #dynamic,
                secret: #secret,
                doc: #text,
            });
        });
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::runner_core::plugin::Properties for #name #ty_generics #where_clause {
            fn docs(out: &mut ::std::vec::Vec<::runner_core::plugin::PropDoc>) {
                #(#docs)*
            }

            #[allow(unused_variables)]
            fn take_tasks(&mut self, lists: &mut ::runner_core::plugin::TaskLists) {
                #(#takes)*
            }

            fn seal(&mut self) {
                #(#seals)*
            }

            #[allow(unreachable_code)]
            fn check_property(
                name: &str,
                value: &::runner_core::plugin::Json,
            ) -> ::std::option::Option<::std::result::Result<(), ::runner_core::plugin::ValueError>> {
                match name {
                    #(#checks)*
                    _ => {
                        #(#flattened)*
                        ::std::option::Option::None
                    }
                }
            }
        }
    })
}

fn prop_type(input: &DeriveInput) -> syn::Result<Tokens> {
    let container = serde_attrs(&input.attrs)?;
    let prop = prop_attrs(&input.attrs)?;
    let text = match (&prop.type_doc, &input.data) {
        (Some(t), _) => t.clone(),
        (None, Data::Enum(data)) if !container.untagged => {
            let mut names = Vec::new();
            for variant in &data.variants {
                if !matches!(variant.fields, Fields::Unit) {
                    return Err(Error::new(
                        variant.span(),
                        "only unit variants are named automatically: add #[prop(type = \"...\")] to the enum",
                    ));
                }
                let serde = serde_attrs(&variant.attrs)?;
                if serde.skip {
                    continue;
                }
                names.push(match serde.rename {
                    Some(n) => n,
                    None => rename_variant(
                        &variant.ident.to_string(),
                        container.rename_all.as_deref(),
                        variant.span(),
                    )?,
                });
            }
            names.join("|")
        }
        _ => {
            return Err(Error::new(
                input.span(),
                "name this type for the documentation with #[prop(type = \"...\")]",
            ));
        }
    };
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::runner_core::plugin::PropType for #name #ty_generics #where_clause {
            const NAME: &'static str = #text;
        }
    })
}

/// serde's `rename_all` for a field written in snake_case.
fn rename_field(field: &str, rule: Option<&str>, span: proc_macro2::Span) -> syn::Result<String> {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    Ok(match rule {
        None | Some("snake_case") | Some("lowercase") => field.to_string(),
        Some("UPPERCASE") | Some("SCREAMING_SNAKE_CASE") => field.to_ascii_uppercase(),
        Some("kebab-case") => field.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => field.replace('_', "-").to_ascii_uppercase(),
        Some("PascalCase") => words.iter().map(|w| capitalize(w)).collect(),
        Some("camelCase") => {
            let pascal: String = words.iter().map(|w| capitalize(w)).collect();
            lower_first(&pascal)
        }
        Some(other) => return Err(Error::new(span, format!("unknown rename rule `{other}`"))),
    })
}

/// serde's `rename_all` for a variant written in PascalCase.
fn rename_variant(
    variant: &str,
    rule: Option<&str>,
    span: proc_macro2::Span,
) -> syn::Result<String> {
    let mut snake = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    Ok(match rule {
        None | Some("PascalCase") => variant.to_string(),
        Some("lowercase") => variant.to_ascii_lowercase(),
        Some("UPPERCASE") => variant.to_ascii_uppercase(),
        Some("camelCase") => lower_first(variant),
        Some("snake_case") => snake,
        Some("SCREAMING_SNAKE_CASE") => snake.to_ascii_uppercase(),
        Some("kebab-case") => snake.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => snake.replace('_', "-").to_ascii_uppercase(),
        Some(other) => return Err(Error::new(span, format!("unknown rename rule `{other}`"))),
    })
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn lower_first(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, rule: Option<&str>) -> String {
        rename_field(name, rule, proc_macro2::Span::call_site()).unwrap()
    }

    fn variant(name: &str, rule: Option<&str>) -> String {
        rename_variant(name, rule, proc_macro2::Span::call_site()).unwrap()
    }

    #[test]
    fn fields_are_named_as_serde_names_them() {
        assert_eq!(field("fetch_size", Some("camelCase")), "fetchSize");
        assert_eq!(field("after_sql", Some("camelCase")), "afterSql");
        assert_eq!(field("url", Some("camelCase")), "url");
        assert_eq!(field("fetch_size", Some("PascalCase")), "FetchSize");
        assert_eq!(field("fetch_size", None), "fetch_size");
        assert_eq!(field("fetch_size", Some("snake_case")), "fetch_size");
        assert_eq!(
            field("fetch_size", Some("SCREAMING_SNAKE_CASE")),
            "FETCH_SIZE"
        );
        assert_eq!(field("fetch_size", Some("kebab-case")), "fetch-size");
        assert_eq!(
            field("fetch_size", Some("SCREAMING-KEBAB-CASE")),
            "FETCH-SIZE"
        );
        assert_eq!(field("a__b", Some("camelCase")), "aB");
        assert!(rename_field("x", Some("Title Case"), proc_macro2::Span::call_site()).is_err());
    }

    #[test]
    fn variants_are_named_as_serde_names_them() {
        assert_eq!(
            variant("FetchOne", Some("SCREAMING_SNAKE_CASE")),
            "FETCH_ONE"
        );
        assert_eq!(variant("FetchOne", Some("UPPERCASE")), "FETCHONE");
        assert_eq!(variant("FetchOne", Some("lowercase")), "fetchone");
        assert_eq!(variant("FetchOne", Some("camelCase")), "fetchOne");
        assert_eq!(variant("FetchOne", Some("snake_case")), "fetch_one");
        assert_eq!(variant("FetchOne", Some("kebab-case")), "fetch-one");
        assert_eq!(variant("FetchOne", None), "FetchOne");
        assert_eq!(variant("Store", Some("SCREAMING_SNAKE_CASE")), "STORE");
    }

    #[test]
    fn doc_comments_join_lines_and_keep_paragraphs() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[doc = " The first line"]),
            syn::parse_quote!(#[doc = " goes on."]),
            syn::parse_quote!(#[doc = ""]),
            syn::parse_quote!(#[doc = " A second paragraph."]),
        ];
        assert_eq!(doc(&attrs), "The first line goes on.\nA second paragraph.");
    }

    #[test]
    fn properties_need_docs_and_refuse_serde_aliases() {
        let undocumented: DeriveInput = syn::parse_quote! {
            struct T { x: Option<Property<String>> }
        };
        let e = properties(&undocumented).unwrap_err().to_string();
        assert!(e.contains("needs a `///` comment"), "{e}");
        let alias: DeriveInput = syn::parse_quote! {
            struct T {
                /// X.
                #[serde(alias = "y")]
                x: Option<Property<String>>,
            }
        };
        let e = properties(&alias).unwrap_err().to_string();
        assert!(e.contains("aliases are not documented"), "{e}");
        let secret: DeriveInput = syn::parse_quote! {
            struct T {
                /// The password.
                #[prop(secret)]
                password: Option<Property<String>>,
            }
        };
        let tokens = properties(&secret).unwrap().to_string();
        assert!(tokens.contains("secret : true"), "{tokens}");
        assert!(tokens.contains("Seal :: seal"), "{tokens}");
    }
}
