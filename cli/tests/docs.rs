//! The docs say what the code does: docs/policies.md shows each bundled package's
//! configuration as its config.schema.json declares it (rendered here; set VOUCH_BLESS=1
//! to rewrite the tables after changing a schema).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::Path;

use serde_json::Value;

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn type_of(s: &Value) -> String {
    if let Some(c) = s.get("const") {
        return format!("`{c}` only");
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        return format!("one of {}", e.iter().map(|v| format!("`{}`", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(", "));
    }
    let one = |t: &str| match t {
        "array" => format!("list of {}", s.get("items").map(type_of).unwrap_or_else(|| "anything".into())),
        "object" => "mapping".to_string(),
        "number" | "integer" => format!("{t}{}", s.get("minimum").map(|m| format!(" ≥ {m}")).unwrap_or_default()),
        other => other.to_string(),
    };
    let mut t = match s.get("type") {
        Some(Value::String(t)) => one(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(one).collect::<Vec<_>>().join(" or "),
        _ => "anything".into(),
    };
    if s.get("minItems").and_then(Value::as_u64).unwrap_or(0) > 0 {
        t.push_str(", not empty");
    }
    t
}

fn rows(prefix: &str, schema: &Value, out: &mut Vec<String>) {
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, p) in props {
        let name = format!("{prefix}{key}");
        let req = if required.contains(&key.as_str()) { " (required)" } else { "" };
        let description = p.get("description").and_then(Value::as_str).unwrap_or_default();
        out.push(format!("| `{name}`{req} | {} | {description} |", type_of(p)));
        if p.get("type").and_then(Value::as_str) == Some("object") {
            rows(&format!("{name}."), p, out);
        }
    }
}

fn render(name: &str, schema: &Value) -> String {
    let mut out = vec![format!("<!-- config:{name} (rendered from policies/{name}/config.schema.json) -->")];
    let mut must: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(|k| format!("`{k}`")).collect())
        .unwrap_or_default();
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let alternatives: Vec<String> = any.iter().filter_map(|a| a["required"][0].as_str()).map(|k| format!("`{k}`")).collect();
        must.push(format!("one of {}", alternatives.join(" or ")));
    }
    if schema.get("minProperties").and_then(Value::as_u64).unwrap_or(0) > 0 {
        must.push("at least one key".into());
    }
    let judges = schema["x-vouch"]["judges_signer"] == true;
    out.push(format!(
        "`config.{name}`: {}{}. Unknown keys, wrong types and quoted or YAML 1.1 booleans (`\"false\"`, `no`) stop the run (exit 2).",
        if must.is_empty() { "every key optional".to_string() } else { format!("needs {}", must.join(", ")) },
        if judges { "; decides who may sign (judges the signer)" } else { "" }
    ));
    out.push(String::new());
    out.push("| key | type | absent / meaning |".into());
    out.push("|---|---|---|".into());
    rows("", schema, &mut out);
    out.push(format!("<!-- /config:{name} -->"));
    out.join("\n")
}

#[test]
fn policy_docs_show_each_packages_schema() {
    let docs_path = repo("docs/policies.md");
    let mut docs = std::fs::read_to_string(&docs_path).unwrap();
    let mut stale = Vec::new();
    for name in ["gitlab", "github", "signing_age", "attestations", "provenance", "ecosystems"] {
        let schema: Value = serde_json::from_slice(&std::fs::read(repo(&format!("policies/{name}/config.schema.json"))).unwrap()).unwrap();
        let table = render(name, &schema);
        let start_tag = format!("<!-- config:{name} ");
        let end_tag = format!("<!-- /config:{name} -->");
        let (Some(start), Some(end)) = (docs.find(&start_tag), docs.find(&end_tag)) else {
            stale.push(format!("docs/policies.md has no table for config.{name}; add:\n{table}"));
            continue;
        };
        let current = &docs[start..end + end_tag.len()];
        if current != table {
            if std::env::var_os("VOUCH_BLESS").is_some() {
                docs.replace_range(start..end + end_tag.len(), &table);
            } else {
                stale.push(format!("docs/policies.md's table for config.{name} is not its schema's (VOUCH_BLESS=1 rewrites it):\n{table}"));
            }
        }
    }
    if std::env::var_os("VOUCH_BLESS").is_some() {
        std::fs::write(&docs_path, &docs).unwrap();
    }
    assert!(stale.is_empty(), "{}", stale.join("\n\n"));
}
