//! Derives of `relay_event`'s traits [`FromValue`](macro@FromValue),
//! [`IntoValue`](macro@IntoValue) and [`ProcessValue`](macro@ProcessValue) for schema structs.
//!
//! Use them through `relay_event`, which re-exports each derive under the name of its trait
//! (like serde does), so one import brings both (this example runs as a doctest of
//! `relay_event`; a proc-macro crate cannot run its own derives in doctests):
//!
//! ```text
//! use relay_event::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};
//!
//! #[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
//! pub struct User {
//!     #[metastructure(max_chars = 128, pii = "true")]
//!     pub id: Annotated<String>,
//!     #[metastructure(field = "ip_address", pii = "true")]
//!     pub ip: Annotated<String>,
//!     #[metastructure(additional_properties)]
//!     pub other: Object<Value>,
//! }
//! ```
//!
//! There is no separate `Empty` derive: emptiness (for `skip_serialization = "empty"`) is
//! [`IntoValue::is_empty`] and blankness (for the elements of `"empty_elements"` fields)
//! `IntoValue::is_blank`, which the `IntoValue` derive generates.
//!
//! # Supported shapes
//!
//! Structs with named fields (generics are passed through without added bounds). Every field
//! is an `Annotated<T>` except at most one field marked `additional_properties`, which holds
//! the unknown attributes as an `Object<Value>`. Without such a field, unknown attributes are
//! dropped when parsing. Tuple structs, unit structs, enums and unions are rejected with a
//! compile error.
//!
//! # Field attributes: `#[metastructure(...)]`
//!
//! | attribute | effect |
//! |---|---|
//! | `field = "name"` | serialized name (default: the Rust field name) |
//! | `required = true` | `FieldAttrs::required` |
//! | `nonempty = true` | `FieldAttrs::nonempty` |
//! | `trim_whitespace = true` | `FieldAttrs::trim_whitespace` |
//! | `retain = true` | `FieldAttrs::retain` |
//! | `max_chars = N`, `max_chars_allowance = N` | `FieldAttrs::max_chars(N, allowance)` (allowance defaults to 0) |
//! | `max_bytes = N`, `max_depth = N` | `FieldAttrs::bag_size` (each optional) |
//! | `characters = EXPR` | `FieldAttrs::characters`; `EXPR` must be a `const` `CharacterSet` |
//! | `pii = "true" \| "false" \| "maybe"` | `FieldAttrs::pii` |
//! | `skip_serialization = "null" \| "empty" \| "empty_elements" \| "never"` | when the field is left out of the payload (default `"null"`); `"empty_elements"` also leaves out the blank elements of a list or map (`SkipSerialization::EmptyElements`) |
//! | `additional_properties` | marks the `Object<Value>` field of unknown attributes |
//!
//! Boolean attributes accept `true`/`false` or `"true"`/`"false"`; numbers accept an integer
//! literal or a constant expression. Every field gets `FieldAttrs::name` set to its
//! serialized name.
//!
//! # Container attributes
//!
//! `#[metastructure(process_func = "method")]` makes the generated
//! [`ProcessValue::process_value`] call `processor.method(self, meta, state)` (a processor
//! hook for this type, taking `&mut Self, &mut Meta, &ProcessingState`) instead of processing
//! the children directly; the hook decides whether to recurse with `process_child_values`.
//!
//! `#[metastructure(expectation = "text")]` sets what the `invalid_data` error of a value that
//! is not an object says: `expected text`. The default is the struct's name in lower case
//! (`Geo` → `expected geo`), Sentry's wording.
//!
//! `#[metastructure(from_non_object = "function")]` parses a value that is not an object with
//! `Self::function(value: Value, meta: Meta) -> Annotated<Self>` instead (e.g. a log entry
//! given as plain text).
//!
//! # Generated code
//!
//! Exactly the contract of `relay_event`'s crate docs ("Implementing the traits for a schema
//! struct"): `FromValue` removes each field's key from the input object and parses it, the rest
//! becomes the `additional_properties` field, any non-object is `invalid_type(.., "an
//! object")`; its `deserialize_annotated` streams the same from a serde deserializer (through
//! a generated `relay_event::__private::DeserializeFields` impl: an empty struct, then one
//! `match` on the key per entry); `IntoValue` writes the fields in declaration order, then the
//! unknown attributes (one named like a field is written once, at the field's place),
//! collects non-empty meta trees under the serialized names (`has_child_meta` answers whether
//! there are any without building them) and reports emptiness;
//! `ProcessValue` visits each field with `state.enter_static(name, Some(Cow::Borrowed(&ATTRS)))`
//! where `ATTRS` is a `static FieldAttrs`, then calls `Processor::process_other`. Generated
//! code names the runtime crate as `::relay_event`.
//!
//! [`IntoValue::is_empty`]: macro@IntoValue
//! [`ProcessValue::process_value`]: macro@ProcessValue

#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, ExprLit, Fields, Ident, Lit, LitStr, Type};

/// Derives `relay_event::FromValue` (lenient parsing from an object); see the crate docs.
#[proc_macro_derive(FromValue, attributes(metastructure))]
pub fn derive_from_value(input: TokenStream) -> TokenStream {
    expand(input, gen_from_value)
}

/// Derives `relay_event::IntoValue` (payload, `_meta` children and emptiness); see the crate
/// docs.
#[proc_macro_derive(IntoValue, attributes(metastructure))]
pub fn derive_into_value(input: TokenStream) -> TokenStream {
    expand(input, gen_into_value)
}

/// Derives `relay_event::ProcessValue` (traversal with per-field attributes); see the crate
/// docs.
#[proc_macro_derive(ProcessValue, attributes(metastructure))]
pub fn derive_process_value(input: TokenStream) -> TokenStream {
    expand(input, gen_process_value)
}

fn expand(input: TokenStream, generate: fn(&Schema) -> TokenStream2) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match Schema::parse(&input) {
        Ok(schema) => generate(&schema).into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// A parsed schema struct.
struct Schema<'a> {
    input: &'a DeriveInput,
    fields: Vec<SchemaField>,
    other: Option<Ident>,
    process_func: Option<Ident>,
    /// What the error of a non-object value says is expected (`expected <expectation>`).
    expectation: String,
    /// The associated function that parses a non-object value instead of the error.
    from_non_object: Option<Ident>,
}

/// One `Annotated<T>` field with its attributes.
struct SchemaField {
    ident: Ident,
    span: Span,
    name: String,
    attrs: TokenStream2,
    skip: TokenStream2,
    /// `skip_serialization = "empty_elements"`: written without its blank elements.
    blank_elements: bool,
}

/// The attributes of one field as written.
#[derive(Default)]
struct RawFieldAttrs {
    field: Option<LitStr>,
    required: Option<bool>,
    nonempty: Option<bool>,
    trim_whitespace: Option<bool>,
    retain: Option<bool>,
    max_chars: Option<Expr>,
    max_chars_allowance: Option<Expr>,
    max_bytes: Option<Expr>,
    max_depth: Option<Expr>,
    characters: Option<Expr>,
    pii: Option<TokenStream2>,
    skip_serialization: Option<TokenStream2>,
    blank_elements: bool,
    additional_properties: Option<Span>,
    /// Span of the first attribute other than `additional_properties`.
    first_other: Option<Span>,
}

impl<'a> Schema<'a> {
    fn parse(input: &'a DeriveInput) -> syn::Result<Self> {
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(_) => {
                    return Err(syn::Error::new(
                        data.fields.span(),
                        "metastructure derives support only structs with named fields, not tuple structs",
                    ))
                }
                Fields::Unit => {
                    return Err(syn::Error::new(
                        input.ident.span(),
                        "metastructure derives support only structs with named fields, not unit structs",
                    ))
                }
            },
            Data::Enum(data) => {
                return Err(syn::Error::new(
                    data.enum_token.span(),
                    "metastructure derives support only structs with named fields, not enums",
                ))
            }
            Data::Union(data) => {
                return Err(syn::Error::new(
                    data.union_token.span(),
                    "metastructure derives support only structs with named fields, not unions",
                ))
            }
        };

        let ContainerAttrs {
            process_func,
            expectation,
            from_non_object,
        } = parse_container_attrs(input)?;
        // Sentry's wording: the struct's name in lower case (`expected geo`,
        // `expected clientsdkinfo`) unless the struct says otherwise.
        let expectation =
            expectation.unwrap_or_else(|| input.ident.to_string().to_ascii_lowercase());
        let mut fields = Vec::new();
        let mut other: Option<Ident> = None;
        let mut names: Vec<String> = Vec::new();

        for field in &named.named {
            let Some(ident) = field.ident.clone() else {
                return Err(syn::Error::new(field.span(), "expected a named field"));
            };
            let raw = parse_field_attrs(field)?;

            if let Some(span) = raw.additional_properties {
                if let Some(first) = &other {
                    return Err(syn::Error::new(
                        span,
                        format!("`additional_properties` is already set on field `{first}`"),
                    ));
                }
                if let Some(span) = raw.first_other {
                    return Err(syn::Error::new(
                        span,
                        "an `additional_properties` field takes no other metastructure attributes",
                    ));
                }
                other = Some(ident);
                continue;
            }

            if !is_annotated(&field.ty) {
                return Err(syn::Error::new(
                    field.ty.span(),
                    "every field of a schema struct must be `Annotated<T>`; mark the \
                     `Object<Value>` field of unknown attributes with \
                     `#[metastructure(additional_properties)]`",
                ));
            }

            let name = match &raw.field {
                Some(lit) => lit.value(),
                None => ident.to_string().trim_start_matches("r#").to_owned(),
            };
            let name_span = raw.field.as_ref().map_or(ident.span(), LitStr::span);
            if names.contains(&name) {
                return Err(syn::Error::new(
                    name_span,
                    format!("duplicate serialized field name `{name}`"),
                ));
            }
            names.push(name.clone());

            let attrs = field_attrs_expr(&name, &raw);
            let skip = raw
                .skip_serialization
                .clone()
                .unwrap_or_else(|| quote!(::relay_event::SkipSerialization::Null));
            fields.push(SchemaField {
                span: field.span(),
                ident,
                name,
                attrs,
                skip,
                blank_elements: raw.blank_elements,
            });
        }

        Ok(Schema {
            input,
            fields,
            other,
            process_func,
            expectation,
            from_non_object,
        })
    }
}

/// Whether `ty` is a path type whose last segment is `Annotated<..>`.
fn is_annotated(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => {
            path.qself.is_none()
                && path.path.segments.last().is_some_and(|segment| {
                    segment.ident == "Annotated"
                        && matches!(segment.arguments, syn::PathArguments::AngleBracketed(_))
                })
        }
        Type::Group(group) => is_annotated(&group.elem),
        Type::Paren(paren) => is_annotated(&paren.elem),
        _ => false,
    }
}

/// The container attributes as written.
struct ContainerAttrs {
    process_func: Option<Ident>,
    expectation: Option<String>,
    from_non_object: Option<Ident>,
}

fn parse_container_attrs(input: &DeriveInput) -> syn::Result<ContainerAttrs> {
    let mut process_func = None;
    let mut expectation = None;
    let mut from_non_object = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("metastructure"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("process_func") {
                let lit: LitStr = meta.value()?.parse()?;
                process_func = Some(lit.parse::<Ident>().map_err(|_| {
                    syn::Error::new(lit.span(), "`process_func` must name a method")
                })?);
                Ok(())
            } else if meta.path.is_ident("expectation") {
                let lit: LitStr = meta.value()?.parse()?;
                expectation = Some(lit.value());
                Ok(())
            } else if meta.path.is_ident("from_non_object") {
                let lit: LitStr = meta.value()?.parse()?;
                from_non_object = Some(lit.parse::<Ident>().map_err(|_| {
                    syn::Error::new(lit.span(), "`from_non_object` must name a function")
                })?);
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown container attribute `{}`; supported: `process_func`, \
                     `expectation`, `from_non_object`",
                    path_text(&meta.path)
                )))
            }
        })?;
    }
    Ok(ContainerAttrs {
        process_func,
        expectation,
        from_non_object,
    })
}

fn path_text(path: &syn::Path) -> String {
    quote!(#path).to_string().replace(' ', "")
}

fn parse_field_attrs(field: &syn::Field) -> syn::Result<RawFieldAttrs> {
    let mut raw = RawFieldAttrs::default();
    for attr in field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("metastructure"))
    {
        attr.parse_nested_meta(|meta| {
            let path = &meta.path;
            let span = path.span();
            let Some(key) = path.get_ident().map(Ident::to_string) else {
                return Err(meta.error("expected a metastructure attribute name"));
            };
            if key != "additional_properties" && raw.first_other.is_none() {
                raw.first_other = Some(span);
            }
            match key.as_str() {
                "field" => raw.field = Some(meta.value()?.parse()?),
                "required" => raw.required = Some(parse_bool(&meta)?),
                "nonempty" => raw.nonempty = Some(parse_bool(&meta)?),
                "trim_whitespace" => raw.trim_whitespace = Some(parse_bool(&meta)?),
                "retain" => raw.retain = Some(parse_bool(&meta)?),
                "max_chars" => raw.max_chars = Some(meta.value()?.parse()?),
                "max_chars_allowance" => raw.max_chars_allowance = Some(meta.value()?.parse()?),
                "max_bytes" => raw.max_bytes = Some(meta.value()?.parse()?),
                "max_depth" => raw.max_depth = Some(meta.value()?.parse()?),
                "characters" => raw.characters = Some(meta.value()?.parse()?),
                "pii" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let variant = match lit.value().as_str() {
                        "true" => quote!(True),
                        "false" => quote!(False),
                        "maybe" => quote!(Maybe),
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!(
                                    "invalid pii level `{other}`; expected \"true\", \"false\" or \"maybe\""
                                ),
                            ))
                        }
                    };
                    raw.pii = Some(quote!(::relay_event::Pii::#variant));
                }
                "skip_serialization" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let variant = match lit.value().as_str() {
                        "null" => quote!(Null),
                        "empty" => quote!(Empty),
                        "empty_elements" => quote!(EmptyElements),
                        "never" => quote!(Never),
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!(
                                    "invalid skip_serialization `{other}`; expected \"null\", \"empty\", \"empty_elements\" or \"never\""
                                ),
                            ))
                        }
                    };
                    raw.blank_elements = lit.value() == "empty_elements";
                    raw.skip_serialization =
                        Some(quote!(::relay_event::SkipSerialization::#variant));
                }
                "additional_properties" => {
                    if meta.input.peek(syn::Token![=]) {
                        return Err(meta.error("`additional_properties` takes no value"));
                    }
                    raw.additional_properties = Some(span);
                }
                _ => {
                    return Err(meta.error(format!(
                        "unknown metastructure attribute `{key}`; supported: field, required, \
                         nonempty, trim_whitespace, retain, max_chars, max_chars_allowance, \
                         max_bytes, max_depth, characters, pii, skip_serialization, \
                         additional_properties"
                    )))
                }
            }
            Ok(())
        })?;
    }
    if raw.max_chars_allowance.is_some() && raw.max_chars.is_none() {
        let span = raw
            .max_chars_allowance
            .as_ref()
            .map_or_else(Span::call_site, Spanned::span);
        return Err(syn::Error::new(
            span,
            "`max_chars_allowance` requires `max_chars`",
        ));
    }
    Ok(raw)
}

/// Parses `= true`, `= "true"` (or false); a bare flag means `true`.
fn parse_bool(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<bool> {
    if !meta.input.peek(syn::Token![=]) {
        return Ok(true);
    }
    let expr: Expr = meta.value()?.parse()?;
    match &expr {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b.value),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) if s.value() == "true" || s.value() == "false" => Ok(s.value() == "true"),
        _ => Err(syn::Error::new(
            expr.span(),
            "expected `true` or `false` (optionally quoted)",
        )),
    }
}

/// The `const` expression building a field's `FieldAttrs`.
fn field_attrs_expr(name: &str, raw: &RawFieldAttrs) -> TokenStream2 {
    let mut expr = quote!(::relay_event::FieldAttrs::new().name(#name));
    if let Some(value) = raw.required {
        expr.extend(quote!(.required(#value)));
    }
    if let Some(value) = raw.nonempty {
        expr.extend(quote!(.nonempty(#value)));
    }
    if let Some(value) = raw.trim_whitespace {
        expr.extend(quote!(.trim_whitespace(#value)));
    }
    if let Some(value) = raw.retain {
        expr.extend(quote!(.retain(#value)));
    }
    if let Some(max_chars) = &raw.max_chars {
        let allowance = raw
            .max_chars_allowance
            .as_ref()
            .map_or_else(|| quote!(0), |a| quote!(#a));
        expr.extend(quote!(.max_chars(#max_chars, #allowance)));
    }
    if raw.max_bytes.is_some() || raw.max_depth.is_some() {
        let option = |value: &Option<Expr>| match value {
            Some(v) => quote!(::core::option::Option::Some(#v)),
            None => quote!(::core::option::Option::None),
        };
        let bytes = option(&raw.max_bytes);
        let depth = option(&raw.max_depth);
        expr.extend(quote!(.bag_size(#bytes, #depth)));
    }
    if let Some(characters) = &raw.characters {
        expr.extend(quote!(.characters(#characters)));
    }
    if let Some(pii) = &raw.pii {
        expr.extend(quote!(.pii(#pii)));
    }
    expr
}

fn gen_from_value(schema: &Schema<'_>) -> TokenStream2 {
    let ident = &schema.input.ident;
    let expectation = &schema.expectation;
    let non_object = match &schema.from_non_object {
        Some(function) => quote!(Self::#function(__other, __meta)),
        None => quote!(::relay_event::invalid_type(__other, __meta, #expectation)),
    };
    let (impl_generics, ty_generics, where_clause) = schema.input.generics.split_for_impl();
    let fields = schema.fields.iter().map(|f| {
        let SchemaField {
            ident, name, span, ..
        } = f;
        quote_spanned! {*span=>
            #ident: ::relay_event::FromValue::from_value(
                __map.remove(#name).unwrap_or_default(),
            ),
        }
    });
    let other = match &schema.other {
        Some(other) => quote!(#other: __map,),
        None => quote!(),
    };
    let empty_fields = schema.fields.iter().map(|f| {
        let ident = &f.ident;
        quote_spanned!(f.span=> #ident: ::core::default::Default::default(),)
    });
    let empty_other = match &schema.other {
        Some(other) => quote!(#other: ::core::default::Default::default(),),
        None => quote!(),
    };
    let field_indices = schema.fields.iter().enumerate().map(|(index, f)| {
        let name = &f.name;
        quote!(#name => #index,)
    });
    let field_parsers = schema.fields.iter().enumerate().map(|(index, f)| {
        let ident = &f.ident;
        quote_spanned! {f.span=>
            #index => {
                ::relay_event::__private::serde::de::MapAccess::next_value_seed(
                    __map,
                    ::relay_event::__private::FieldSeed(&mut self.#ident),
                )?;
            }
        }
    });
    let parse_other = match &schema.other {
        Some(other) => {
            quote!(::relay_event::__private::deserialize_other(&mut self.#other, __key, __map)?)
        }
        None => quote!(::relay_event::__private::deserialize_ignored(__map)?),
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics ::relay_event::FromValue for #ident #ty_generics #where_clause {
            fn from_value(
                __value: ::relay_event::Annotated<::relay_event::Value>,
            ) -> ::relay_event::Annotated<Self> {
                match __value {
                    ::relay_event::Annotated(
                        ::core::option::Option::Some(::relay_event::Value::Object(mut __map)),
                        __meta,
                    ) => {
                        let __result = Self { #(#fields)* #other };
                        ::relay_event::Annotated(::core::option::Option::Some(__result), __meta)
                    }
                    ::relay_event::Annotated(::core::option::Option::Some(__other), __meta) => {
                        #non_object
                    }
                    ::relay_event::Annotated(::core::option::Option::None, __meta) => {
                        ::relay_event::Annotated(::core::option::Option::None, __meta)
                    }
                }
            }

            fn deserialize_annotated<
                '__de,
                __D: ::relay_event::__private::serde::Deserializer<'__de>,
            >(
                __deserializer: __D,
            ) -> ::core::result::Result<::relay_event::Annotated<Self>, __D::Error> {
                ::relay_event::__private::deserialize_struct::<Self, __D>(__deserializer)
            }

            fn deserialize_annotated_into<
                '__de,
                __D: ::relay_event::__private::serde::Deserializer<'__de>,
            >(
                __place: &mut ::relay_event::Annotated<Self>,
                __deserializer: __D,
            ) -> ::core::result::Result<(), __D::Error> {
                ::relay_event::__private::deserialize_struct_into::<Self, __D>(
                    __place,
                    __deserializer,
                )
            }
        }

        #[automatically_derived]
        impl #impl_generics ::relay_event::__private::DeserializeFields for #ident #ty_generics
            #where_clause
        {
            fn empty_fields() -> Self {
                Self { #(#empty_fields)* #empty_other }
            }

            fn deserialize_field<
                '__de,
                __A: ::relay_event::__private::serde::de::MapAccess<'__de>,
            >(
                &mut self,
                __key: ::std::borrow::Cow<'__de, str>,
                __map: &mut __A,
            ) -> ::core::result::Result<(), __A::Error> {
                // An index first, so that the key can be moved into `other` afterwards.
                let __index: usize = match &*__key {
                    #(#field_indices)*
                    _ => usize::MAX,
                };
                match __index {
                    #(#field_parsers)*
                    _ => #parse_other,
                }
                ::core::result::Result::Ok(())
            }
        }
    }
}

fn gen_into_value(schema: &Schema<'_>) -> TokenStream2 {
    let ident = &schema.input.ident;
    let (impl_generics, ty_generics, where_clause) = schema.input.generics.split_for_impl();

    let into_fields = schema.fields.iter().map(|f| {
        let (field, name) = (&f.ident, &f.name);
        quote_spanned! {f.span=>
            __map.insert(
                ::std::string::String::from(#name),
                self.#field.into_annotated_value(),
            );
        }
    });
    // A key of `other` that is also a field name (only possible when code puts it there)
    // is written once, like a JSON object map would keep it: at the field's position with
    // the value of `other`, or — if the field is skipped — among the unknown attributes.
    let serialize_fields = schema.fields.iter().map(|f| {
        let (field, name, skip) = (&f.ident, &f.name, &f.skip);
        let payload = if f.blank_elements {
            quote!(::relay_event::SerializePayloadWithoutBlankElements(&self.#field))
        } else {
            quote!(::relay_event::SerializePayload(&self.#field))
        };
        let entry = match &schema.other {
            Some(other) => quote! {
                match ::relay_event::__private::other_override(&self.#other, #name) {
                    ::core::option::Option::Some(__value) => {
                        ::relay_event::__private::serde::ser::SerializeMap::serialize_entry(
                            &mut __map,
                            #name,
                            &::relay_event::SerializePayload(__value),
                        )?;
                    }
                    ::core::option::Option::None => {
                        ::relay_event::__private::serde::ser::SerializeMap::serialize_entry(
                            &mut __map,
                            #name,
                            &#payload,
                        )?;
                    }
                }
            },
            None => quote! {
                ::relay_event::__private::serde::ser::SerializeMap::serialize_entry(
                    &mut __map,
                    #name,
                    &#payload,
                )?;
            },
        };
        quote_spanned! {f.span=>
            if !self.#field.skip_serialization(#skip) {
                #entry
            }
        }
    });
    let field_written = schema.fields.iter().map(|f| {
        let (field, name, skip) = (&f.ident, &f.name, &f.skip);
        quote!(#name => !self.#field.skip_serialization(#skip),)
    });
    let meta_fields = schema.fields.iter().map(|f| {
        let (field, name) = (&f.ident, &f.name);
        quote_spanned! {f.span=>
            if self.#field.has_meta() {
                __children.insert(::std::string::String::from(#name), self.#field.meta_tree());
            }
        }
    });
    let has_meta_fields = schema.fields.iter().map(|f| {
        let field = &f.ident;
        quote_spanned!(f.span=> self.#field.has_meta() ||)
    });
    // Empty (deep): every field missing or empty, whatever its own attribute (Sentry leaves
    // out `user.geo` = `{"city": ""}` although it writes an empty `city` beside a `region`).
    let empty_fields = schema.fields.iter().map(|f| {
        let field = &f.ident;
        let mode = if f.blank_elements {
            quote!(EmptyElements)
        } else {
            quote!(Empty)
        };
        quote_spanned! {f.span=>
            self.#field.skip_serialization(::relay_event::SkipSerialization::#mode) &&
        }
    });
    // Blank (shallow): written as `{}`, every field left out by its own attribute.
    let blank_fields = schema.fields.iter().map(|f| {
        let (field, skip) = (&f.ident, &f.skip);
        quote_spanned! {f.span=>
            self.#field.skip_serialization(#skip) &&
        }
    });

    let has_meta_other = match &schema.other {
        Some(other) => quote!(self.#other.values().any(::relay_event::Annotated::has_meta)),
        None => quote!(false),
    };
    let blank_other = match &schema.other {
        Some(other) => quote! {
            self.#other.values().all(|__value| {
                __value.skip_serialization(::relay_event::SkipSerialization::Null)
            })
        },
        None => quote!(true),
    };
    let (into_other, serialize_other, meta_other, empty_other) = match &schema.other {
        Some(other) => (
            quote!(__map.extend(self.#other);),
            quote! {
                for (__key, __value) in &self.#other {
                    let __written_as_field = match __key.as_str() {
                        #(#field_written)*
                        _ => false,
                    };
                    if !__written_as_field
                        && !__value.skip_serialization(::relay_event::SkipSerialization::Null)
                    {
                        ::relay_event::__private::serde::ser::SerializeMap::serialize_entry(
                            &mut __map,
                            __key,
                            &::relay_event::SerializePayload(__value),
                        )?;
                    }
                }
            },
            quote! {
                for (__key, __value) in &self.#other {
                    if __value.has_meta() {
                        __children.insert(::std::clone::Clone::clone(__key), __value.meta_tree());
                    }
                }
            },
            quote! {
                self.#other.values().all(|__value| {
                    __value.skip_serialization(::relay_event::SkipSerialization::Empty)
                })
            },
        ),
        None => (quote!(), quote!(), quote!(), quote!(true)),
    };

    quote! {
        #[automatically_derived]
        impl #impl_generics ::relay_event::IntoValue for #ident #ty_generics #where_clause {
            fn into_value(self) -> ::relay_event::Value {
                let mut __map = ::relay_event::Object::new();
                #(#into_fields)*
                #into_other
                ::relay_event::Value::Object(__map)
            }

            fn serialize_payload<__S: ::relay_event::__private::serde::Serializer>(
                &self,
                __serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                let mut __map = ::relay_event::__private::serde::Serializer::serialize_map(
                    __serializer,
                    ::core::option::Option::None,
                )?;
                #(#serialize_fields)*
                #serialize_other
                ::relay_event::__private::serde::ser::SerializeMap::end(__map)
            }

            fn extract_child_meta(&self) -> ::relay_event::MetaMap {
                let mut __children = ::relay_event::MetaMap::new();
                #(#meta_fields)*
                #meta_other
                __children
            }

            fn has_child_meta(&self) -> bool {
                #(#has_meta_fields)* #has_meta_other
            }

            fn is_empty(&self) -> bool {
                #(#empty_fields)* #empty_other
            }

            fn is_blank(&self) -> bool {
                #(#blank_fields)* #blank_other
            }
        }
    }
}

fn gen_process_value(schema: &Schema<'_>) -> TokenStream2 {
    let ident = &schema.input.ident;
    let (impl_generics, ty_generics, where_clause) = schema.input.generics.split_for_impl();

    let process_fields = schema.fields.iter().map(|f| {
        let (field, name, attrs) = (&f.ident, &f.name, &f.attrs);
        quote_spanned! {f.span=>
            {
                static __ATTRS: ::relay_event::FieldAttrs = #attrs;
                ::relay_event::process_value(
                    &mut self.#field,
                    __processor,
                    &__state.enter_static(
                        #name,
                        ::core::option::Option::Some(::std::borrow::Cow::Borrowed(&__ATTRS)),
                    ),
                )?;
            }
        }
    });
    let process_other = match &schema.other {
        Some(other) => quote!(::relay_event::Processor::process_other(
            __processor,
            &mut self.#other,
            __state,
        )),
        None => quote!(::core::result::Result::Ok(())),
    };
    let process_value = schema.process_func.as_ref().map(|func| {
        quote! {
            fn process_value<__P: ::relay_event::Processor>(
                &mut self,
                __meta: &mut ::relay_event::Meta,
                __processor: &mut __P,
                __state: &::relay_event::ProcessingState<'_>,
            ) -> ::relay_event::ProcessingResult {
                __processor.#func(self, __meta, __state)
            }
        }
    });

    quote! {
        #[automatically_derived]
        impl #impl_generics ::relay_event::ProcessValue for #ident #ty_generics #where_clause {
            #process_value

            fn process_child_values<__P: ::relay_event::Processor>(
                &mut self,
                __processor: &mut __P,
                __state: &::relay_event::ProcessingState<'_>,
            ) -> ::relay_event::ProcessingResult {
                #(#process_fields)*
                #process_other
            }
        }
    }
}
