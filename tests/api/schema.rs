//! The OpenAPI document and a small schema checker (type, required, properties, items,
//! enum, nullable, allOf, oneOf, $ref, additionalProperties), with a test that it catches
//! mismatches.

use crate::harness::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// OpenAPI document and a small schema checker (type, required, properties, items, enum,
// nullable, allOf, oneOf, $ref, additionalProperties)

pub(crate) fn openapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            let target = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The schema with `$ref` resolved and `allOf` merged into one object schema.
pub(crate) fn merged(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
        return schema.clone();
    };
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    let mut additional = false;
    for part in parts {
        let part = merged(doc, part);
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            properties.extend(p.clone());
        }
        if let Some(r) = part.get("required").and_then(Value::as_array) {
            required.extend(r.clone());
        }
        additional |= part.get("additionalProperties") == Some(&Value::Bool(true));
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": additional,
        "nullable": schema.get("nullable").cloned().unwrap_or(Value::Bool(false)),
    })
}

pub(crate) fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    let schema = merged(doc, schema);
    if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let fits = choices.iter().any(|c| {
            let mut e = Vec::new();
            check(doc, c, value, at, &mut e);
            e.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: {value} matches no oneOf choice"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    let Some(kind) = schema.get("type").and_then(Value::as_str) else {
        return;
    };
    let ok = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        other => panic!("schema type {other} not handled"),
    };
    if !ok {
        errors.push(format!("{at}: expected {kind}, got {value}"));
        return;
    }
    if let (Some(object), "object") = (value.as_object(), kind) {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                errors.push(format!("{at}: required field {name} missing"));
            }
        }
        let open = schema.get("additionalProperties") == Some(&Value::Bool(true));
        for (name, field) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => check(doc, s, field, &format!("{at}.{name}"), errors),
                None if open => {}
                None => errors.push(format!("{at}: field {name} is not documented")),
            }
        }
    }
    if let (Some(items), Some(schema_items)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, schema_items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

/// The documented schema of `method template` answering `status`.
pub(crate) fn response_schema(doc: &Value, method: &str, template: &str, status: u16) -> Value {
    let operation = doc
        .get("paths")
        .and_then(|p| p.get(template))
        .and_then(|p| p.get(method.to_ascii_lowercase()))
        .unwrap_or_else(|| panic!("{method} {template} is not documented"));
    let response = operation
        .get("responses")
        .and_then(|r| r.get(status.to_string()))
        .unwrap_or_else(|| panic!("{method} {template}: status {status} is not documented"));
    let response = resolve(doc, response);
    response
        .pointer("/content/application~1json/schema")
        .cloned()
        .unwrap_or_else(|| panic!("{method} {template} {status}: no JSON schema"))
}

pub(crate) fn assert_matches_openapi(doc: &Value, method: &str, template: &str, reply: &Reply) {
    let schema = response_schema(doc, method, template, reply.status);
    let mut errors = Vec::new();
    check(doc, &schema, &reply.json(), "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {template} ({}): {errors:#?}\n{}",
        reply.status,
        reply.text
    );
}

#[test]
pub(crate) fn the_schema_checker_catches_mismatches() {
    let doc = openapi();
    let schema = json!({"$ref": "#/components/schemas/VrrpSummary"});
    let good = json!({
        "virtual_ip": "10.0.0.1", "group": 1, "interface": "eth0", "name": "eth0-1", "priority": 100,
        "preempt": false, "state": "Backup", "virtual_ips": ["10.0.0.1"], "version": 2,
        "master": null,
        "counters": {"adverts_in": 0, "adverts_suppressed": 0, "adverts_out": 0, "transitions": 0,
                     "auth_failures": 0,
                     "discarded": 0, "last_transition": null}
    });
    let mut errors = Vec::new();
    check(&doc, &schema, &good, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let mut bad_cases = Vec::new();
    for (field, value) in [
        ("state", json!("Active")),
        ("group", json!("1")),
        ("master", json!(5)),
        ("undocumented", json!(1)),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        bad_cases.push(bad);
    }
    let mut missing = good.clone();
    missing.as_object_mut().map(|o| o.remove("preempt"));
    bad_cases.push(missing);
    for bad in bad_cases {
        let mut errors = Vec::new();
        check(&doc, &schema, &bad, "$", &mut errors);
        assert!(!errors.is_empty(), "accepted {bad}");
    }
}
