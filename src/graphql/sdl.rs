//! DatoCMS's schema text ([`SCHEMA_SDL`], parsed by async-graphql's own parser) turned into
//! async-graphql's dynamic schema: every type, field, argument, default and description as
//! DatoCMS has them, each field resolved by the function [`super::resolvers::resolver`] names
//! for it. This environment's locales become `SiteLocale`; `ImgixParams` keeps the parameters
//! assetd renders.

use std::collections::BTreeSet;

use async_graphql::{
    dynamic::{
        Enum, EnumItem, Field, InputObject, InputValue, Interface, InterfaceField, Object, Scalar, SchemaBuilder,
        TypeRef,
    },
    parser::{
        parse_schema,
        types::{BaseType, InputValueDefinition, Type, TypeKind, TypeSystemDefinition},
        Positioned,
    },
};

use super::{imgix, resolvers};
use crate::domain::Locale;

/// `$built` (a dynamic `Field` or `InterfaceField`: the same two methods, no shared trait) with the
/// description and arguments of the field definition `$field`.
macro_rules! documented {
    ($built:expr, $field:expr) => {{
        let mut built = $built;
        if let Some(description) = $field.description {
            built = built.description(description.node);
        }
        for argument in $field.arguments {
            built = built.argument(input_value(argument));
        }
        built
    }};
}

/// DatoCMS's schema for uploads (see the file's header).
pub const SCHEMA_SDL: &str = include_str!("schema.graphql");

/// Adds every type of [`SCHEMA_SDL`] to `builder`. Errors name what does not fit: a field
/// without a resolver, a definition kind the file should not hold.
pub(super) fn register_types(mut builder: SchemaBuilder, locales: &[Locale]) -> anyhow::Result<SchemaBuilder> {
    let document = parse_schema(SCHEMA_SDL).map_err(|e| anyhow::anyhow!("schema.graphql does not parse: {e}"))?;
    let mut definitions = Vec::new();
    for definition in document.definitions {
        match definition {
            TypeSystemDefinition::Type(definition) => definitions.push(definition.node),
            other => anyhow::bail!("schema.graphql holds a definition assetd does not build: {other:?}"),
        }
    }
    // ImgixParams' enums that no parameter assetd renders uses are left out with those parameters.
    let used_enums: BTreeSet<String> = definitions
        .iter()
        .filter(|d| d.name.node == "ImgixParams")
        .flat_map(|d| match &d.kind {
            TypeKind::InputObject(input) => input.fields.iter().map(|f| f.node.clone()).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .filter(|field| imgix::is_rendered(&field.name.node))
        .map(|field| base_name(&field.ty.node).to_owned())
        .collect();
    for definition in definitions {
        let name = definition.name.node.to_string();
        let description = definition.description.map(|d| d.node);
        match definition.kind {
            TypeKind::Scalar => builder = builder.register(scalar(&name, description)),
            TypeKind::Object(object) => {
                let mut built = Object::new(&name);
                if let Some(description) = description {
                    built = built.description(description);
                }
                for interface in object.implements {
                    built = built.implement(interface.node.as_str());
                }
                for field in object.fields {
                    let field = field.node;
                    let resolve = resolvers::resolver(&name, &field.name.node)
                        .ok_or_else(|| anyhow::anyhow!("{name}.{} has no resolver", field.name.node))?;
                    let built_field = Field::new(field.name.node.as_str(), type_ref(&field.ty.node), resolve);
                    built = built.field(documented!(built_field, field));
                }
                builder = builder.register(built);
            }
            TypeKind::Interface(interface) => {
                let mut built = Interface::new(&name);
                if let Some(description) = description {
                    built = built.description(description);
                }
                for field in interface.fields {
                    let field = field.node;
                    let built_field = InterfaceField::new(field.name.node.as_str(), type_ref(&field.ty.node));
                    built = built.field(documented!(built_field, field));
                }
                builder = builder.register(built);
            }
            TypeKind::InputObject(input) => {
                let mut built = InputObject::new(&name);
                if let Some(description) = description {
                    built = built.description(description);
                }
                for field in input.fields {
                    if name == "ImgixParams" && !imgix::is_rendered(&field.node.name.node) {
                        continue;
                    }
                    built = built.field(input_value(field));
                }
                builder = builder.register(built);
            }
            TypeKind::Enum(values) => {
                if name.starts_with("ImgixParams") && !used_enums.contains(&name) {
                    continue;
                }
                let mut built = Enum::new(&name);
                if let Some(description) = description {
                    built = built.description(description);
                }
                if name == "SiteLocale" {
                    built = built.items(locales.iter().map(site_locale));
                } else {
                    for value in values.values {
                        let mut item = EnumItem::new(value.node.value.node.as_str());
                        if let Some(description) = value.node.description {
                            item = item.description(description.node);
                        }
                        built = built.item(item);
                    }
                }
                builder = builder.register(built);
            }
            TypeKind::Union(_) => anyhow::bail!("schema.graphql holds a union ({name}): assetd builds none"),
        }
    }
    Ok(builder)
}

/// A locale as a `SiteLocale` value: `pt-BR` → `pt_BR`.
pub(super) fn site_locale(locale: &Locale) -> String {
    locale.as_str().replace('-', "_")
}

/// DatoCMS's custom scalars take what their names say; `IntType` and `FloatType` also take
/// numbers written as strings, as DatoCMS's own front-end examples send them.
fn scalar(name: &str, description: Option<String>) -> Scalar {
    let mut scalar = Scalar::new(name);
    if let Some(description) = description {
        scalar = scalar.description(description);
    }
    use async_graphql::Value;
    match name {
        "IntType" => scalar.validator(|value| match value {
            Value::Number(n) => n.is_i64() || n.is_u64(),
            Value::String(s) => s.trim().parse::<i64>().is_ok(),
            _ => false,
        }),
        "FloatType" => scalar.validator(|value| match value {
            Value::Number(_) => true,
            Value::String(s) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
            _ => false,
        }),
        "BooleanType" => scalar.validator(|value| matches!(value, Value::Boolean(_))),
        "ItemId" | "UploadId" | "DateTime" => scalar.validator(|value| matches!(value, Value::String(_))),
        _ => scalar,
    }
}

fn input_value(definition: Positioned<InputValueDefinition>) -> InputValue {
    let definition = definition.node;
    let mut value = InputValue::new(definition.name.node.as_str(), type_ref(&definition.ty.node));
    if let Some(description) = definition.description {
        value = value.description(description.node);
    }
    if let Some(default) = definition.default_value {
        value = value.default_value(default.node);
    }
    value
}

fn type_ref(ty: &Type) -> TypeRef {
    let base = match &ty.base {
        BaseType::Named(name) => TypeRef::Named(name.to_string().into()),
        BaseType::List(item) => TypeRef::List(Box::new(type_ref(item))),
    };
    if ty.nullable {
        base
    } else {
        TypeRef::NonNull(Box::new(base))
    }
}

fn base_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => base_name(item),
    }
}
