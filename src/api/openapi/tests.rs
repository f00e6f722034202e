//! The document's claims about the parsers, checked against them.

use super::{
    public::{transform_params, CROPS, FITS, FORMATS},
    resources::{attribute_schema, relationship_schema, ENTITY_ID_PATTERN, REQUEST_BODIES},
};
use crate::{
    api::collections::REORDER_ITEM,
    domain::{is_valid_entity_id, new_entity_id, new_opaque_id},
    imaging::TransformParams,
};

#[test]
fn every_attribute_and_relationship_a_handler_takes_has_a_schema() {
    let shapes = REQUEST_BODIES.iter().map(|body| body.shape).chain([REORDER_ITEM]);
    for shape in shapes {
        for name in shape.attributes {
            let schema = attribute_schema(name).to_string();
            assert!(!schema.contains("UNDOCUMENTED"), "{}: attribute {name} has no schema", shape.kind);
        }
        for name in shape.relationships {
            let schema = relationship_schema(name).to_string();
            assert!(!schema.contains("UNDOCUMENTED"), "{}: relationship {name} has no schema", shape.kind);
        }
    }
}

#[test]
fn required_names_are_names_the_handler_takes() {
    for body in REQUEST_BODIES {
        for attribute in body.attributes {
            assert!(body.shape.attributes.contains(attribute), "{}: {attribute} is required but not taken", body.name);
        }
        for relationship in body.relationships {
            let taken = body.shape.relationships.contains(relationship);
            assert!(taken, "{}: {relationship} is required but not taken", body.name);
        }
    }
}

#[test]
fn every_documented_rendering_parameter_is_one_the_parser_renders_with() {
    let example = crate::imaging::params::example_value;
    for parameter in transform_params() {
        let name = parameter["name"].as_str().unwrap_or_default();
        let parsed = TransformParams::parse(&format!("{name}={}", example(name)));
        if crate::imaging::DELIVERY_PARAMS.contains(&name) {
            let value = format!("{name}={}", example(name));
            assert!(crate::imaging::download_name(&value).unwrap().is_some(), "{name} is documented but not read");
            continue;
        }
        // The signature and the preset may be resolved before or inside the parser: not checked here.
        if name != "s" && name != "preset" {
            assert!(matches!(parsed, Ok(Some(_))), "{name} is documented but the parser ignores it: {parsed:?}");
        }
    }
}

#[test]
fn documented_enum_values_parse() {
    for (name, values) in [("fit", &FITS[..]), ("fm", &FORMATS[..]), ("crop", &CROPS[..])] {
        for value in values {
            let parsed = TransformParams::parse(&format!("{name}={value}"));
            assert!(matches!(parsed, Ok(Some(_))), "{name}={value}: {parsed:?}");
        }
    }
}

#[test]
fn the_entity_id_pattern_is_the_id_check() {
    let pattern = regex::Regex::new(ENTITY_ID_PATTERN).unwrap();
    for _ in 0..500 {
        let id = new_entity_id();
        assert!(pattern.is_match(&id), "{id} is valid but does not match");
        // Random 22-character strings: the pattern and the check agree on each.
        let other = new_opaque_id().chars().rev().collect::<String>();
        assert_eq!(pattern.is_match(&other), is_valid_entity_id(&other), "{other}");
    }
    for id in ["1", "99999999999999", "0000000000000000000000", "0", "281474976710656", "", "q0VNpiNQSkG6z0lif_O1z"] {
        assert_eq!(pattern.is_match(id), is_valid_entity_id(id), "{id:?}");
    }
}
