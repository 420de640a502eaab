//! The contract, `openapi.yaml` at the repository root: it lists exactly the REST routes the
//! server has, and the server serves it as committed. (`.ci/contract` checks the rest of it
//! against a running server with Schemathesis.)

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml_ng::Value;

use crate::support::TestApp;

/// The operations an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn contract_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn contract() -> Value {
    serde_yaml_ng::from_str(&contract_text()).expect("openapi.yaml is not YAML")
}

/// Every (method, path) the contract lists, methods in lower case as `ROUTES` has them.
fn documented(contract: &Value) -> BTreeSet<(String, String)> {
    let paths = contract["paths"]
        .as_mapping()
        .expect("openapi.yaml has no `paths`");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("a path is not a string");
        let item = item.as_mapping().expect("a path item is not a mapping");
        for method in item.keys().filter_map(Value::as_str) {
            if METHODS.contains(&method) {
                operations.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    operations
}

fn label(operations: Vec<&(String, String)>) -> String {
    operations
        .iter()
        .map(|(method, path)| format!("{} {path}", method.to_uppercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn the_contract_lists_exactly_the_routes_the_server_has() {
    let contract = contract();
    assert_eq!(
        contract["servers"][0]["url"].as_str(),
        Some("/api/v1"),
        "openapi.yaml's paths must be relative to /api/v1, as the routes are"
    );
    let documented = documented(&contract);
    let routed: BTreeSet<(String, String)> = api::rest::ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    let undocumented = label(routed.difference(&documented).collect());
    let unrouted = label(documented.difference(&routed).collect());
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "openapi.yaml and api::rest::ROUTES differ.\n\
         Routes missing from openapi.yaml: [{undocumented}]\n\
         Operations in openapi.yaml that no route serves: [{unrouted}]"
    );
}

#[actix_web::test]
async fn the_server_serves_the_contract_as_committed() {
    let app = TestApp::spawn().await;
    let committed = contract_text();
    for path in ["/api/v1/openapi.yaml", "/openapi.yaml"] {
        let mut response = awc::Client::new()
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("request failed");
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/yaml"),
            "GET {path}"
        );
        let body = response
            .body()
            .limit(4 * 1024 * 1024)
            .await
            .expect("no body");
        assert!(
            body == committed.as_bytes(),
            "GET {path} serves another openapi.yaml than the one at the repository root"
        );
    }
}
