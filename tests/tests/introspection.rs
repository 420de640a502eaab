//! The standard introspection query, as GraphiQL, graphql-codegen and Apollo's tools send it
//! (graphql-js's `getIntrospectionQuery()`, in `tests/fixtures/`), gets the whole schema: a
//! schema built from its answer equals the committed `api/schema.graphql`.
//!
//! The fixtures are graphql-js 16.15.0's output, byte for byte (from `npm pack graphql@16.15.0`:
//! `require("./package/utilities/getIntrospectionQuery.js").getIntrospectionQuery(options)`,
//! with no options, and with every option of that version on).

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    ConstDirective, FieldDefinition, InputValueDefinition, TypeKind, TypeSystemDefinition,
};
use serde_json::{Value, json};

use crate::support::TestApp;

/// graphql-js 16.15.0's `getIntrospectionQuery()` with its default options.
const DEFAULT_QUERY: &str = include_str!("../fixtures/graphql-js-16.15.0-introspection.graphql");
/// The same with every option on (descriptions, `specifiedByURL`, `isRepeatable`, the schema's
/// description, deprecated input values, `isOneOf`).
const ALL_OPTIONS_QUERY: &str =
    include_str!("../fixtures/graphql-js-16.15.0-introspection-all-options.graphql");

/// An input value (argument or input field): description, type, default value, deprecation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InputShape {
    name: String,
    description: Option<String>,
    ty: String,
    default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldShape {
    name: String,
    description: Option<String>,
    args: Vec<InputShape>,
    ty: String,
    deprecation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct EnumValueShape {
    name: String,
    description: Option<String>,
    deprecation: Option<String>,
}

/// A named type as both sides can say it, in definition order where order is visible.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct TypeShape {
    kind: String,
    description: Option<String>,
    fields: Vec<FieldShape>,
    interfaces: BTreeSet<String>,
    possible_types: BTreeSet<String>,
    enum_values: Vec<EnumValueShape>,
    input_fields: Vec<InputShape>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DirectiveShape {
    description: Option<String>,
    locations: Vec<String>,
    args: Vec<InputShape>,
}

#[derive(Debug, PartialEq, Eq, Default)]
struct SchemaShape {
    roots: [Option<String>; 3],
    types: BTreeMap<String, TypeShape>,
    directives: BTreeMap<String, DirectiveShape>,
}

/// Types every schema has, which SDL leaves out.
fn built_in(name: &str) -> bool {
    name.starts_with("__") || matches!(name, "String" | "Int" | "Float" | "Boolean" | "ID")
}

/// The directives GraphQL specifies, which graphql-js's `printSchema` leaves out (and whose
/// arguments' descriptions async-graphql's SDL does not print).
fn built_in_directive(name: &str) -> bool {
    matches!(
        name,
        "include" | "skip" | "deprecated" | "specifiedBy" | "oneOf"
    )
}

// --- From the introspection answer ---------------------------------------------------------

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// A type reference printed as SDL writes it: `[String!]!`.
fn type_ref(value: &Value) -> String {
    match value["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&value["ofType"])),
        Some("LIST") => format!("[{}]", type_ref(&value["ofType"])),
        _ => value["name"].as_str().unwrap_or("?").to_owned(),
    }
}

fn input_values(values: &Value) -> Vec<InputShape> {
    values
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| InputShape {
                    name: text(&v["name"]).unwrap_or_default(),
                    description: text(&v["description"]),
                    ty: type_ref(&v["type"]),
                    default: text(&v["defaultValue"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn deprecation(value: &Value) -> Option<String> {
    (value["isDeprecated"] == true).then(|| text(&value["deprecationReason"]).unwrap_or_default())
}

fn names(values: &Value) -> BTreeSet<String> {
    values
        .as_array()
        .map(|values| values.iter().filter_map(|v| text(&v["name"])).collect())
        .unwrap_or_default()
}

fn from_introspection(schema: &Value) -> SchemaShape {
    let mut shape = SchemaShape {
        roots: [
            text(&schema["queryType"]["name"]),
            text(&schema["mutationType"]["name"]),
            text(&schema["subscriptionType"]["name"]),
        ],
        ..Default::default()
    };
    for ty in schema["types"].as_array().expect("types") {
        let name = text(&ty["name"]).expect("a type's name");
        if built_in(&name) {
            continue;
        }
        let fields = ty["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| FieldShape {
                        name: text(&f["name"]).unwrap_or_default(),
                        description: text(&f["description"]),
                        args: input_values(&f["args"]),
                        ty: type_ref(&f["type"]),
                        deprecation: deprecation(f),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let enum_values = ty["enumValues"]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .map(|v| EnumValueShape {
                        name: text(&v["name"]).unwrap_or_default(),
                        description: text(&v["description"]),
                        deprecation: deprecation(v),
                    })
                    .collect()
            })
            .unwrap_or_default();
        shape.types.insert(
            name,
            TypeShape {
                kind: text(&ty["kind"]).unwrap_or_default(),
                description: text(&ty["description"]),
                fields,
                interfaces: names(&ty["interfaces"]),
                possible_types: names(&ty["possibleTypes"]),
                enum_values,
                input_fields: input_values(&ty["inputFields"]),
            },
        );
    }
    for directive in schema["directives"].as_array().expect("directives") {
        let name = text(&directive["name"]).expect("a directive's name");
        if built_in_directive(&name) {
            continue;
        }
        shape.directives.insert(
            name,
            DirectiveShape {
                description: text(&directive["description"]),
                locations: directive["locations"]
                    .as_array()
                    .map(|l| l.iter().filter_map(text).collect())
                    .unwrap_or_default(),
                args: input_values(&directive["args"]),
            },
        );
    }
    shape
}

// --- From the committed SDL ----------------------------------------------------------------

fn sdl_deprecation(directives: &[async_graphql::Positioned<ConstDirective>]) -> Option<String> {
    directives
        .iter()
        .find(|d| d.node.name.node == "deprecated")
        .map(|d| {
            d.node
                .get_argument("reason")
                .and_then(|reason| match &reason.node {
                    async_graphql::Value::String(reason) => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "No longer supported".into())
        })
}

fn sdl_inputs(values: &[async_graphql::Positioned<InputValueDefinition>]) -> Vec<InputShape> {
    values
        .iter()
        .map(|v| InputShape {
            name: v.node.name.node.to_string(),
            description: v.node.description.as_ref().map(|d| d.node.clone()),
            ty: v.node.ty.node.to_string(),
            default: v.node.default_value.as_ref().map(|d| d.node.to_string()),
        })
        .collect()
}

/// `FragmentSpread` as introspection names it: `FRAGMENT_SPREAD`.
fn upper_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_uppercase());
    }
    out
}

fn sdl_fields(fields: &[async_graphql::Positioned<FieldDefinition>]) -> Vec<FieldShape> {
    fields
        .iter()
        .map(|f| FieldShape {
            name: f.node.name.node.to_string(),
            description: f.node.description.as_ref().map(|d| d.node.clone()),
            args: sdl_inputs(&f.node.arguments),
            ty: f.node.ty.node.to_string(),
            deprecation: sdl_deprecation(&f.node.directives),
        })
        .collect()
}

fn from_sdl(sdl: &str) -> SchemaShape {
    let document = parse_schema(sdl).expect("api/schema.graphql parses");
    let mut shape = SchemaShape::default();
    let mut implementers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for definition in &document.definitions {
        match definition {
            TypeSystemDefinition::Schema(schema) => {
                let schema = &schema.node;
                shape.roots = [
                    schema.query.as_ref().map(|n| n.node.to_string()),
                    schema.mutation.as_ref().map(|n| n.node.to_string()),
                    schema.subscription.as_ref().map(|n| n.node.to_string()),
                ];
            }
            TypeSystemDefinition::Directive(directive) => {
                let directive = &directive.node;
                if built_in_directive(&directive.name.node) {
                    continue;
                }
                shape.directives.insert(
                    directive.name.node.to_string(),
                    DirectiveShape {
                        description: directive.description.as_ref().map(|d| d.node.clone()),
                        locations: directive
                            .locations
                            .iter()
                            .map(|l| upper_snake(&format!("{:?}", l.node)))
                            .collect(),
                        args: sdl_inputs(&directive.arguments),
                    },
                );
            }
            TypeSystemDefinition::Type(ty) => {
                let ty = &ty.node;
                let name = ty.name.node.to_string();
                let mut shape_of = TypeShape {
                    description: ty.description.as_ref().map(|d| d.node.clone()),
                    ..Default::default()
                };
                match &ty.kind {
                    TypeKind::Scalar => shape_of.kind = "SCALAR".into(),
                    TypeKind::Object(object) => {
                        shape_of.kind = "OBJECT".into();
                        shape_of.interfaces = object
                            .implements
                            .iter()
                            .map(|i| i.node.to_string())
                            .collect();
                        shape_of.fields = sdl_fields(&object.fields);
                    }
                    TypeKind::Interface(interface) => {
                        shape_of.kind = "INTERFACE".into();
                        shape_of.interfaces = interface
                            .implements
                            .iter()
                            .map(|i| i.node.to_string())
                            .collect();
                        shape_of.fields = sdl_fields(&interface.fields);
                    }
                    TypeKind::Union(union) => {
                        shape_of.kind = "UNION".into();
                        shape_of.possible_types =
                            union.members.iter().map(|m| m.node.to_string()).collect();
                    }
                    TypeKind::Enum(values) => {
                        shape_of.kind = "ENUM".into();
                        shape_of.enum_values = values
                            .values
                            .iter()
                            .map(|v| EnumValueShape {
                                name: v.node.value.node.to_string(),
                                description: v.node.description.as_ref().map(|d| d.node.clone()),
                                deprecation: sdl_deprecation(&v.node.directives),
                            })
                            .collect();
                    }
                    TypeKind::InputObject(input) => {
                        shape_of.kind = "INPUT_OBJECT".into();
                        shape_of.input_fields = sdl_inputs(&input.fields);
                    }
                }
                for interface in &shape_of.interfaces {
                    implementers
                        .entry(interface.clone())
                        .or_default()
                        .insert(name.clone());
                }
                shape.types.insert(name, shape_of);
            }
        }
    }
    for (interface, types) in implementers {
        if let Some(ty) = shape.types.get_mut(&interface) {
            ty.possible_types = types;
        }
    }
    shape
}

// --- The tests -----------------------------------------------------------------------------

async fn introspect(app: &TestApp, query: &str) -> Value {
    let body = app
        .graphql_named(query, "IntrospectionQuery", json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["__schema"].clone()
}

/// Where a shape differs, type by type, so that a failure names what drifted.
fn differences(built: &SchemaShape, committed: &SchemaShape) -> Vec<String> {
    let mut out = Vec::new();
    if built.roots != committed.roots {
        out.push(format!("roots: {:?} != {:?}", built.roots, committed.roots));
    }
    let names: BTreeSet<&String> = built.types.keys().chain(committed.types.keys()).collect();
    for name in names {
        match (built.types.get(name), committed.types.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => out.push(format!(
                "type {name}:\n  served:    {a:?}\n  committed: {b:?}"
            )),
        }
    }
    let names: BTreeSet<&String> = built
        .directives
        .keys()
        .chain(committed.directives.keys())
        .collect();
    for name in names {
        match (built.directives.get(name), committed.directives.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                out.push(format!(
                    "directive @{name}:\n  served:    {a:?}\n  committed: {b:?}"
                ));
            }
        }
    }
    out
}

#[actix_web::test]
async fn graphql_js_introspection_query_rebuilds_the_committed_schema() {
    let app = TestApp::spawn().await;
    let committed = from_sdl(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/schema.graphql"),
        )
        .expect("api/schema.graphql"),
    );
    assert!(committed.types.contains_key("Talk") && committed.types.len() > 20);
    for query in [DEFAULT_QUERY, ALL_OPTIONS_QUERY] {
        let built = from_introspection(&introspect(&app, query).await);
        let differences = differences(&built, &committed);
        assert!(differences.is_empty(), "{}", differences.join("\n"));
    }
}

#[actix_web::test]
async fn introspection_deeper_than_its_own_limit_is_still_refused() {
    let app = TestApp::spawn().await;
    let deep = format!(
        "{{ __type(name: \"Talk\") {{ fields {{ type {{ {} name {} }} }} }} }}",
        "ofType { ".repeat(20),
        "} ".repeat(20)
    );
    let body = app.graphql(&deep, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body:#}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("nested too deep") && message.contains("__type"),
        "{message}"
    );
}

#[actix_web::test]
async fn ordinary_fields_keep_their_depth_limit() {
    let app = TestApp::spawn().await;
    // Eleven levels of fields: refused for its depth before the fields are looked up.
    let deep = "{ talks { nodes { resources { a { b { c { d { e { f { g { h } } } } } } } } } } }";
    let body = app.graphql(deep, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body:#}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("11 levels") && message.contains("at most 10"),
        "{message}"
    );
    // Ten levels pass the depth check (and then fail as unknown fields).
    let ten = "{ talks { nodes { resources { a { b { c { d { e { f { g } } } } } } } } } }";
    let body = app.graphql(ten, json!({})).await;
    assert_ne!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body:#}"
    );
}

#[actix_web::test]
async fn with_introspection_off_the_standard_query_is_refused_as_not_supported() {
    let db = tests::TestDb::new().await;
    let app = TestApp::spawn_configured(db, |s| s.graphiql = false).await;
    let body = app
        .graphql_named(DEFAULT_QUERY, "IntrospectionQuery", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_SUPPORTED",
        "{body:#}"
    );
}
