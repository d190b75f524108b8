//! Configuration schemas: each policy package may declare the shape of its
//! `config.<name>` in a `config.schema.json` beside its `.rego`, and every data file is
//! checked against the schemas of the loaded packages before any subject is judged.
//!
//! The schemas are JSON Schema, of a subset that vouch implements itself (a page of code
//! instead of a validator crate and its dependencies). The subset is closed: a keyword
//! vouch does not implement is an error, never ignored, and objects are closed too — a
//! schema with `properties` has `additionalProperties: false` unless it says otherwise —
//! so that a misspelled key is reported instead of silently meaning "not set".

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// Keywords that only describe (no effect on validation).
const ANNOTATIONS: &[&str] = &["$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated"];

/// One compiled schema node.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    types: Option<Vec<String>>,
    properties: BTreeMap<String, Schema>,
    additional: Additional,
    required: Vec<String>,
    items: Option<Box<Schema>>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    min_properties: Option<u64>,
    enumeration: Option<Vec<Json>>,
    constant: Option<Json>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<regex::Regex>,
    any_of: Vec<Schema>,
    one_of: Vec<Schema>,
    /// `x-vouch` annotations: `{"judges_signer": true}`.
    pub judges_signer: bool,
}

/// What an object may hold besides its `properties`.
#[derive(Debug, Clone, Default)]
enum Additional {
    /// Nothing (vouch's default, and `additionalProperties: false`).
    #[default]
    Closed,
    /// Anything (`additionalProperties: true`).
    Any,
    /// Values of this schema.
    Schema(Box<Schema>),
}

/// Where in a document: keys and indices from the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

pub fn path_text(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if !out.is_empty() => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => out.push_str(k),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A value that does not fit its schema.
#[derive(Debug, Clone)]
pub struct Violation {
    pub path: Vec<Seg>,
    pub message: String,
}

const TYPES: &[&str] = &["object", "array", "string", "boolean", "integer", "number", "null"];

impl Schema {
    /// Compile a schema document; any keyword outside the subset is an error.
    pub fn parse(doc: &Json) -> Result<Schema, String> {
        Self::parse_at(doc, "#")
    }

    fn parse_at(doc: &Json, at: &str) -> Result<Schema, String> {
        let Json::Object(map) = doc else {
            return Err(format!("{at}: a schema must be an object"));
        };
        let mut s = Schema::default();
        // A schema that lists properties describes an object's shape and is closed
        // unless it says otherwise; one without (e.g. `{"required": [...]}` inside anyOf)
        // only constrains.
        if !map.contains_key("properties") {
            s.additional = Additional::Any;
        }
        let list_of_strings = |v: &Json, key: &str| -> Result<Vec<String>, String> {
            match v {
                Json::String(t) => Ok(vec![t.clone()]),
                Json::Array(items) => {
                    items.iter().map(|i| i.as_str().map(str::to_string).ok_or_else(|| format!("{at}/{key}: expected strings"))).collect()
                }
                _ => Err(format!("{at}/{key}: expected a string or a list of strings")),
            }
        };
        let count = |v: &Json, key: &str| v.as_u64().ok_or_else(|| format!("{at}/{key}: expected a non-negative integer"));
        let subschemas = |v: &Json, key: &str| -> Result<Vec<Schema>, String> {
            let Json::Array(items) = v else {
                return Err(format!("{at}/{key}: expected a list of schemas"));
            };
            items.iter().enumerate().map(|(i, item)| Self::parse_at(item, &format!("{at}/{key}/{i}"))).collect()
        };
        for (key, value) in map {
            match key.as_str() {
                k if ANNOTATIONS.contains(&k) => {}
                "type" => {
                    let types = list_of_strings(value, key)?;
                    if let Some(t) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
                        return Err(format!("{at}/type: unknown type {t:?} (one of {})", TYPES.join(", ")));
                    }
                    s.types = Some(types);
                }
                "properties" => {
                    let Json::Object(props) = value else { return Err(format!("{at}/properties: expected an object")) };
                    for (name, sub) in props {
                        s.properties.insert(name.clone(), Self::parse_at(sub, &format!("{at}/properties/{name}"))?);
                    }
                }
                "additionalProperties" => {
                    s.additional = match value {
                        Json::Bool(false) => Additional::Closed,
                        Json::Bool(true) => Additional::Any,
                        other => Additional::Schema(Box::new(Self::parse_at(other, &format!("{at}/additionalProperties"))?)),
                    };
                }
                "required" => s.required = list_of_strings(value, key)?,
                "items" => s.items = Some(Box::new(Self::parse_at(value, &format!("{at}/items"))?)),
                "minItems" => s.min_items = Some(count(value, key)?),
                "maxItems" => s.max_items = Some(count(value, key)?),
                "minProperties" => s.min_properties = Some(count(value, key)?),
                "minLength" => s.min_length = Some(count(value, key)?),
                "maxLength" => s.max_length = Some(count(value, key)?),
                "uniqueItems" => s.unique_items = value.as_bool().ok_or_else(|| format!("{at}/uniqueItems: expected a boolean"))?,
                "enum" => s.enumeration = Some(value.as_array().cloned().ok_or_else(|| format!("{at}/enum: expected a list"))?),
                "const" => s.constant = Some(value.clone()),
                "minimum" => s.minimum = Some(value.as_f64().ok_or_else(|| format!("{at}/minimum: expected a number"))?),
                "maximum" => s.maximum = Some(value.as_f64().ok_or_else(|| format!("{at}/maximum: expected a number"))?),
                "pattern" => {
                    let text = value.as_str().ok_or_else(|| format!("{at}/pattern: expected a string"))?;
                    s.pattern = Some(regex::RegexBuilder::new(text).size_limit(1 << 20).build().map_err(|e| format!("{at}/pattern: {e}"))?);
                }
                "anyOf" => s.any_of = subschemas(value, key)?,
                "oneOf" => s.one_of = subschemas(value, key)?,
                "x-vouch" => {
                    let Json::Object(x) = value else { return Err(format!("{at}/x-vouch: expected an object")) };
                    for (k, v) in x {
                        match (k.as_str(), v) {
                            ("judges_signer", Json::Bool(b)) => s.judges_signer = *b,
                            _ => return Err(format!("{at}/x-vouch: unknown setting {k:?} (vouch knows judges_signer: true|false)")),
                        }
                    }
                }
                other => return Err(format!("{at}: vouch does not implement the JSON Schema keyword {other:?}; its schemas use type, properties, additionalProperties, required, items, minItems, maxItems, uniqueItems, minProperties, minLength, maxLength, enum, const, minimum, maximum, pattern, anyOf, oneOf")),
            }
        }
        Ok(s)
    }

    /// Every violation of `value`, at `path`.
    pub fn validate(&self, value: &Json, path: &mut Vec<Seg>, out: &mut Vec<Violation>) {
        let mut fail = |path: &[Seg], message: String| out.push(Violation { path: path.to_vec(), message });
        if let Some(types) = &self.types {
            if !types.iter().any(|t| type_matches(t, value)) {
                let wanted = types.join(" or ");
                let hint = match (value, types.iter().any(|t| t == "boolean")) {
                    (Json::String(s), true) if is_yaml11_bool(s).is_some() => {
                        format!(
                            " — YAML 1.1 reads {s:?} as {}, YAML 1.2 (and vouch) as a string: write {}",
                            is_yaml11_bool(s).unwrap_or_default(),
                            is_yaml11_bool(s).unwrap_or_default()
                        )
                    }
                    _ => String::new(),
                };
                fail(path, format!("expected {wanted}, found {}{hint}", describe(value)));
                return;
            }
        }
        if let Some(allowed) = &self.enumeration {
            if !allowed.contains(value) {
                let list = allowed.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
                fail(path, format!("{} is not one of {list}", describe(value)));
            }
        }
        if let Some(c) = &self.constant {
            if c != value {
                fail(path, format!("expected {c}, found {}", describe(value)));
            }
        }
        match value {
            Json::Object(map) => {
                for (key, item) in map {
                    path.push(Seg::Key(key.clone()));
                    match (self.properties.get(key), &self.additional) {
                        (Some(sub), _) => sub.validate(item, path, out),
                        (None, Additional::Schema(sub)) => sub.validate(item, path, out),
                        (None, Additional::Any) => {}
                        (None, Additional::Closed) => {
                            let allowed = self.properties.keys().cloned().collect::<Vec<_>>();
                            let near = allowed.iter().find(|a| close(a, key)).map(|a| format!(" (did you mean {a}?)")).unwrap_or_default();
                            out.push(Violation {
                                path: path.clone(),
                                message: format!(
                                    "unknown key {key:?}{near}; allowed: {}",
                                    if allowed.is_empty() { "none".into() } else { allowed.join(", ") }
                                ),
                            });
                        }
                    }
                    path.pop();
                }
                // After the keys: a misspelled key explains a missing one, so it comes first.
                if let Some(min) = self.min_properties {
                    if (map.len() as u64) < min {
                        out.push(Violation {
                            path: path.to_vec(),
                            message: format!("needs at least {min} of: {}", self.properties.keys().cloned().collect::<Vec<_>>().join(", ")),
                        });
                    }
                }
                for key in &self.required {
                    if !map.contains_key(key) {
                        out.push(Violation { path: path.to_vec(), message: format!("{key} is required") });
                    }
                }
            }
            Json::Array(items) => {
                if let Some(min) = self.min_items {
                    if (items.len() as u64) < min {
                        fail(path, format!("needs at least {min} item{}", if min == 1 { "" } else { "s" }));
                    }
                }
                if let Some(max) = self.max_items {
                    if (items.len() as u64) > max {
                        fail(path, format!("has {} items, at most {max} allowed", items.len()));
                    }
                }
                if self.unique_items {
                    for (i, item) in items.iter().enumerate() {
                        if items.get(..i).is_some_and(|before| before.contains(item)) {
                            fail(path, format!("{} is listed twice", describe(item)));
                        }
                    }
                }
                if let Some(sub) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        path.push(Seg::Index(i));
                        sub.validate(item, path, out);
                        path.pop();
                    }
                }
            }
            Json::String(s) => {
                let chars = s.chars().count() as u64;
                if self.min_length.is_some_and(|m| chars < m) {
                    fail(path, format!("{} is shorter than {} characters", describe(value), self.min_length.unwrap_or_default()));
                }
                if self.max_length.is_some_and(|m| chars > m) {
                    fail(path, format!("{} is longer than {} characters", describe(value), self.max_length.unwrap_or_default()));
                }
                if let Some(p) = &self.pattern {
                    if !p.is_match(s) {
                        fail(path, format!("{} does not match /{}/", describe(value), p.as_str()));
                    }
                }
            }
            Json::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if self.minimum.is_some_and(|m| x.is_nan() || x < m) {
                    fail(path, format!("{n} is below the minimum {}", self.minimum.unwrap_or_default()));
                }
                if self.maximum.is_some_and(|m| x.is_nan() || x > m) {
                    fail(path, format!("{n} is above the maximum {}", self.maximum.unwrap_or_default()));
                }
            }
            _ => {}
        }
        if !self.any_of.is_empty() {
            let branches: Vec<Vec<Violation>> = self.any_of.iter().map(|s| s.check(value, path)).collect();
            if !branches.iter().any(Vec::is_empty) {
                out.extend(best(branches, path, "any"));
            }
        }
        if !self.one_of.is_empty() {
            let branches: Vec<Vec<Violation>> = self.one_of.iter().map(|s| s.check(value, path)).collect();
            match branches.iter().filter(|b| b.is_empty()).count() {
                1 => {}
                0 => out.extend(best(branches, path, "one")),
                n => {
                    out.push(Violation { path: path.clone(), message: format!("matches {n} of the alternatives; exactly one is allowed") })
                }
            }
        }
    }

    fn check(&self, value: &Json, path: &[Seg]) -> Vec<Violation> {
        let mut out = Vec::new();
        self.validate(value, &mut path.to_vec(), &mut out);
        out
    }

    /// The schema of an object's property, if any.
    pub fn property(&self, name: &str) -> Option<&Schema> {
        self.properties.get(name)
    }

    /// The keys of an object schema.
    pub fn keys(&self) -> Vec<&str> {
        self.properties.keys().map(String::as_str).collect()
    }

    /// The description of each property (for docs).
    pub fn describe_properties(doc: &Json) -> Vec<(String, String)> {
        doc.get("properties")
            .and_then(Json::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), v.get("description").and_then(Json::as_str).unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Of alternatives that all failed, report the one that got furthest (fewest
/// violations), or say none matched.
fn best(branches: Vec<Vec<Violation>>, path: &[Seg], kind: &str) -> Vec<Violation> {
    let fewest = branches.into_iter().min_by_key(Vec::len).unwrap_or_default();
    if fewest.len() == 1 {
        return fewest;
    }
    let reasons = fewest.iter().map(|v| v.message.clone()).collect::<Vec<_>>().join("; ");
    vec![Violation { path: path.to_vec(), message: format!("matches none of the allowed forms ({kind} of them must match): {reasons}") }]
}

fn type_matches(t: &str, v: &Json) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "null" => v.is_null(),
        _ => false,
    }
}

/// What YAML 1.1 would have made of a string, where it differs from YAML 1.2.
fn is_yaml11_bool(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "y" | "on" | "true" => Some("true"),
        "no" | "n" | "off" | "false" => Some("false"),
        _ => None,
    }
}

pub fn describe(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("the boolean {b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the string {s:?}"),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "a mapping".into(),
    }
}

/// A one-edit typo (insert, delete, replace or swap), for "did you mean".
pub(crate) fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b {
        return false;
    }
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    match long.len() - short.len() {
        0 => {
            let diffs: Vec<usize> = a.iter().zip(&b).enumerate().filter(|(_, (x, y))| x != y).map(|(i, _)| i).collect();
            match diffs.as_slice() {
                [_] => true,
                // A swap of neighbours.
                [i, j] => *j == i + 1 && a.get(*i) == b.get(*j) && a.get(*j) == b.get(*i),
                _ => false,
            }
        }
        1 => {
            let i = short.iter().zip(long.iter()).position(|(x, y)| x != y).unwrap_or(short.len());
            short.get(i..) == long.get(i + 1..)
        }
        _ => false,
    }
}

/// The (line, column), 1-based, of the value at `path` in a YAML or JSON text (JSON is
/// YAML 1.2), or of the deepest part of the path that exists. Data is parsed for its
/// values elsewhere; this only finds where to point.
pub fn locate(text: &str, path: &[Seg]) -> Option<(u32, u32)> {
    use saphyr_parser::{Event, Parser};
    // A stack of containers: for mappings, whether the next scalar is a key, and the
    // current key; for sequences, the next index.
    enum Frame {
        Map { key: Option<String>, expect_key: bool },
        Seq { index: usize },
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut best: Option<((u32, u32), usize)> = None;
    let current = |stack: &[Frame]| -> Vec<Seg> {
        stack
            .iter()
            .filter_map(|f| match f {
                Frame::Map { key: Some(k), expect_key: false } => Some(Seg::Key(k.clone())),
                Frame::Seq { index } => Some(Seg::Index(*index)),
                _ => None,
            })
            .collect()
    };
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { break };
        let at = (u32::try_from(span.start.line()).unwrap_or(0), u32::try_from(span.start.col() + 1).unwrap_or(0));
        // Note where the path (or a prefix of it) begins.
        let mut note = |here: Vec<Seg>| {
            let n = here.len();
            if path.get(..n) == Some(here.as_slice()) && best.is_none_or(|(_, m)| n > m) {
                best = Some((at, n));
            }
        };
        match event {
            Event::Scalar(value, ..) => {
                match stack.last_mut() {
                    Some(Frame::Map { key, expect_key }) if *expect_key => {
                        *key = Some(value.to_string());
                        *expect_key = false;
                        note(current(&stack));
                        continue;
                    }
                    _ => note(current(&stack)),
                }
                advance(&mut stack);
            }
            Event::MappingStart(..) => {
                note(current(&stack));
                stack.push(Frame::Map { key: None, expect_key: true });
            }
            Event::SequenceStart(..) => {
                note(current(&stack));
                stack.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                advance(&mut stack);
            }
            Event::Alias(_) => advance(&mut stack),
            _ => {}
        }
    }
    fn advance(stack: &mut [Frame]) {
        match stack.last_mut() {
            Some(Frame::Map { expect_key, .. }) => *expect_key = true,
            Some(Frame::Seq { index }) => *index += 1,
            None => {}
        }
    }
    best.map(|(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn violations(schema: Json, value: Json) -> Vec<String> {
        let s = Schema::parse(&schema).unwrap();
        let mut out = Vec::new();
        s.validate(&value, &mut Vec::new(), &mut out);
        out.into_iter().map(|v| format!("{}: {}", path_text(&v.path), v.message)).collect()
    }

    #[test]
    fn objects_are_closed_and_typos_are_named() {
        let schema = json!({"type": "object", "properties": {"branches": {"type": "array", "items": {"type": "string"}}}});
        assert_eq!(
            violations(schema.clone(), json!({"branchs": ["main"]})),
            vec!["branchs: unknown key \"branchs\" (did you mean branches?); allowed: branches"]
        );
        assert!(violations(schema, json!({"branches": ["main"]})).is_empty());
    }

    #[test]
    fn yaml11_booleans_are_named() {
        let schema = json!({"type": "object", "properties": {"allow": {"type": "boolean"}}});
        let v = violations(schema, json!({"allow": "no"}));
        assert_eq!(v.len(), 1);
        assert!(v[0].contains("expected boolean, found the string \"no\"") && v[0].contains("write false"), "{v:?}");
    }

    #[test]
    fn unknown_keywords_are_refused() {
        assert!(Schema::parse(&json!({"type": "object", "patternProperties": {}})).is_err());
        assert!(Schema::parse(&json!({"type": "objekt"})).is_err());
        assert!(Schema::parse(&json!({"x-vouch": {"judges": true}})).is_err());
    }

    #[test]
    fn any_of_and_required() {
        let schema = json!({"type": "object", "properties": {"refs": {"type": "object"}, "any_ref": {"const": true}}, "anyOf": [{"required": ["refs"]}, {"required": ["any_ref"]}]});
        assert!(violations(schema.clone(), json!({"refs": {}})).is_empty());
        assert!(violations(schema.clone(), json!({"any_ref": true})).is_empty());
        assert_eq!(violations(schema.clone(), json!({})), vec![": refs is required"]);
        assert_eq!(violations(schema, json!({"any_ref": false})), vec!["any_ref: expected true, found the boolean false"]);
    }

    #[test]
    fn locations_in_yaml_and_json() {
        let yaml = "config:\n  gitlab:\n    projects: [a]\n    refs:\n      branchs: [main]\n";
        let p = |keys: &[&str]| keys.iter().map(|k| Seg::Key(k.to_string())).collect::<Vec<_>>();
        assert_eq!(locate(yaml, &p(&["config", "gitlab", "refs", "branchs"])), Some((5, 7)));
        assert_eq!(locate(yaml, &p(&["config", "gitlab", "projects"])), Some((3, 5)));
        assert_eq!(
            locate(yaml, &[Seg::Key("config".into()), Seg::Key("gitlab".into()), Seg::Key("projects".into()), Seg::Index(0)]),
            Some((3, 16))
        );
        // A missing key: the deepest part that exists.
        assert_eq!(locate(yaml, &p(&["config", "gitlab", "nope"])), Some((2, 3)));
        let json_text = "{\n  \"config\": {\"gitlab\": {\"allow_fork_pipelines\": \"no\"}}\n}";
        assert_eq!(locate(json_text, &p(&["config", "gitlab", "allow_fork_pipelines"])), Some((2, 25)));
    }

    #[test]
    fn typos() {
        assert!(close("branches", "branchs"));
        assert!(close("refs", "resf"));
        assert!(close("tags", "tag"));
        assert!(!close("projects", "refs"));
    }
}
