//! docs/openapi.yaml describes exactly the routes the api function serves (the router's own
//! table), each with the documented error shape, so the spec and the code cannot drift apart.

use std::collections::BTreeSet;

use api::routes::ROUTES;
use serde_norway::Value;

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let mut node = spec;
            for part in reference.trim_start_matches("#/").split('/') {
                node = node
                    .get(part)
                    .unwrap_or_else(|| panic!("{reference} does not resolve"));
            }
            resolve(spec, node)
        }
        None => value,
    }
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[test]
fn the_spec_has_every_route_the_router_serves_and_no_other() {
    let spec = spec();
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document"
    );
    let paths = spec["paths"].as_mapping().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, routed,
        "docs/openapi.yaml and api::routes::ROUTES differ"
    );
}

#[test]
fn every_operation_documents_its_parameters_and_the_error_shape() {
    let spec = spec();
    let error = resolve(&spec, &spec["components"]["schemas"]["Error"]);
    let required: Vec<&str> = error["properties"]["error"]["required"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["code", "message"]);
    assert!(error["properties"]["error"]["properties"]
        .get("field")
        .is_some());

    for (method, template) in ROUTES {
        let operation = &spec["paths"][template][method.to_lowercase().as_str()];
        let parameters: Vec<&Value> = operation["parameters"]
            .as_sequence()
            .map(|p| p.iter().map(|p| resolve(&spec, p)).collect())
            .unwrap_or_default();
        for name in template
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        {
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"].as_str() == Some(name) && p["in"].as_str() == Some("path")),
                "{method} {template}: path parameter {name} is not documented"
            );
        }
        // Retry and upgrade are idempotent by the install's status: a repeat while one runs
        // answers with its execution. The preflight writes nothing: a repeat checks again.
        let by_key = !["/retry", "/upgrade", "/preflight"]
            .iter()
            .any(|end| template.ends_with(end));
        if method == "POST" && by_key {
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"].as_str() == Some("Idempotency-Key")
                        && p["in"].as_str() == Some("header")),
                "{method} {template}: Idempotency-Key"
            );
        }
        if method == "POST" && !template.ends_with("/retry") && !template.ends_with("/upgrade") {
            assert!(
                operation["requestBody"]["content"]["application/json"]["schema"]
                    .get("$ref")
                    .is_some(),
                "{method} {template}: body schema"
            );
        }
        let responses = operation["responses"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{method} {template}: responses"));
        for status in ["400", "403", "500"] {
            assert!(
                responses.contains_key(status),
                "{method} {template}: no {status}"
            );
        }
        for (status, response) in responses {
            let code = status.as_str().unwrap();
            let schema = resolve(
                &spec,
                &resolve(&spec, response)["content"]["application/json"]["schema"],
            );
            if code.starts_with('4') && code != "403" || code.starts_with('5') {
                assert_eq!(
                    schema, error,
                    "{method} {template} {code}: errors use the Error schema"
                );
            }
            if code.starts_with('2') {
                assert!(
                    !schema.is_null(),
                    "{method} {template} {code}: a success has a body schema"
                );
            }
        }
    }
}
