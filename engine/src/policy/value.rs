//! Any `Serialize` type straight into a regorus [`Value`], as serde_json would write it.
//!
//! The policy input is built once per subject; going through `serde_json::Value` first
//! cost as much again as the conversion (docs/performance.md). Same shapes as JSON:
//! `None` and unit are `null`, enums are externally tagged, map keys are strings.

use std::collections::BTreeMap;

use regorus::Value;
use serde::ser::{self, Serialize};

#[derive(Debug)]
pub struct ToValueError(String);

impl std::fmt::Display for ToValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ToValueError {}

impl ser::Error for ToValueError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ToValueError(msg.to_string())
    }
}

/// Serialize `value` into a regorus value.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    value.serialize(ValueSerializer)
}

struct ValueSerializer;

type Result<T> = std::result::Result<T, ToValueError>;

fn object(map: BTreeMap<Value, Value>) -> Value {
    Value::from(map)
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ToValueError;
    type SerializeSeq = Seq;
    type SerializeTuple = Seq;
    type SerializeTupleStruct = Seq;
    type SerializeTupleVariant = Variant<Seq>;
    type SerializeMap = Map;
    type SerializeStruct = Map;
    type SerializeStructVariant = Variant<Map>;

    fn serialize_bool(self, v: bool) -> Result<Value> {
        Ok(Value::from(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_i16(self, v: i16) -> Result<Value> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_i32(self, v: i32) -> Result<Value> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_i64(self, v: i64) -> Result<Value> {
        Ok(Value::from(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value> {
        Ok(Value::from(u64::from(v)))
    }
    fn serialize_u16(self, v: u16) -> Result<Value> {
        Ok(Value::from(u64::from(v)))
    }
    fn serialize_u32(self, v: u32) -> Result<Value> {
        Ok(Value::from(u64::from(v)))
    }
    fn serialize_u64(self, v: u64) -> Result<Value> {
        Ok(Value::from(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Value> {
        Ok(Value::from(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value> {
        Ok(Value::from(v))
    }
    fn serialize_char(self, v: char) -> Result<Value> {
        Ok(Value::from(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        Ok(Value::from(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        Ok(Value::from(v.iter().map(|b| Value::from(u64::from(*b))).collect::<Vec<_>>()))
    }
    fn serialize_none(self) -> Result<Value> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Value> {
        Ok(Value::from(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, variant: &'static str, value: &T) -> Result<Value> {
        Ok(object(BTreeMap::from([(Value::from(variant), value.serialize(self)?)])))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq> {
        Ok(Seq(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, variant: &'static str, len: usize) -> Result<Variant<Seq>> {
        Ok(Variant { name: variant, inner: Seq(Vec::with_capacity(len)) })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Map> {
        Ok(Map { map: BTreeMap::new(), key: None })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Map> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, variant: &'static str, _: usize) -> Result<Variant<Map>> {
        Ok(Variant { name: variant, inner: Map { map: BTreeMap::new(), key: None } })
    }
}

pub struct Seq(Vec<Value>);

impl ser::SerializeSeq for Seq {
    type Ok = Value;
    type Error = ToValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.0.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value> {
        Ok(Value::from(self.0))
    }
}

impl ser::SerializeTuple for Seq {
    type Ok = Value;
    type Error = ToValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Seq {
    type Ok = Value;
    type Error = ToValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value> {
        ser::SerializeSeq::end(self)
    }
}

pub struct Map {
    map: BTreeMap<Value, Value>,
    key: Option<Value>,
}

impl ser::SerializeMap for Map {
    type Ok = Value;
    type Error = ToValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        // JSON object keys are strings; serde_json writes number and bool keys as text.
        let key = match key.serialize(ValueSerializer)? {
            k @ Value::String(_) => k,
            n @ Value::Number(_) => Value::from(n.to_json_str().map_err(|e| ToValueError(e.to_string()))?),
            Value::Bool(b) => Value::from(b.to_string()),
            _ => return Err(ToValueError("a map key must be a string".into())),
        };
        self.key = Some(key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self.key.take().ok_or_else(|| ToValueError("a map value without a key".into()))?;
        self.map.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value> {
        Ok(object(self.map))
    }
}

impl ser::SerializeStruct for Map {
    type Ok = Value;
    type Error = ToValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.map.insert(Value::from(key), value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value> {
        Ok(object(self.map))
    }
}

pub struct Variant<T> {
    name: &'static str,
    inner: T,
}

impl ser::SerializeTupleVariant for Variant<Seq> {
    type Ok = Value;
    type Error = ToValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        ser::SerializeSeq::serialize_element(&mut self.inner, value)
    }
    fn end(self) -> Result<Value> {
        Ok(object(BTreeMap::from([(Value::from(self.name), Value::from(self.inner.0))])))
    }
}

impl ser::SerializeStructVariant for Variant<Map> {
    type Ok = Value;
    type Error = ToValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Value> {
        Ok(object(BTreeMap::from([(Value::from(self.name), object(self.inner.map))])))
    }
}

/// The same value, sharing no reference-counted part with the original (sets stay
/// sets, numbers keep their precision).
pub fn deep_copy(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::from(s.as_ref()),
        // Numbers are plain values (only very large integers share a count, rarely read).
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Undefined => value.clone(),
        Value::Array(items) => Value::from(items.iter().map(deep_copy).collect::<Vec<_>>()),
        Value::Set(items) => Value::from(items.iter().map(deep_copy).collect::<std::collections::BTreeSet<_>>()),
        Value::Object(fields) => object(fields.iter().map(|(k, v)| (deep_copy(k), deep_copy(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same value as the serde_json route, for every JSON shape.
    #[test]
    fn matches_the_json_route() {
        #[derive(serde::Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, String),
            Struct { a: Option<i32> },
        }
        #[derive(serde::Serialize)]
        struct S<'a> {
            s: &'a str,
            n: i64,
            u: u64,
            f: f64,
            b: bool,
            none: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<String>,
            v: Vec<E>,
            m: BTreeMap<u32, &'a str>,
            j: serde_json::Value,
        }
        let s = S {
            s: "x\u{e9}",
            n: -3,
            u: u64::MAX,
            f: 1.5,
            b: true,
            none: None,
            skipped: None,
            v: vec![E::Unit, E::New(1), E::Tuple(2, "t".into()), E::Struct { a: Some(-1) }],
            m: BTreeMap::from([(7, "seven")]),
            j: serde_json::json!({"k": [1, "two", null, {"z": false}], "big": 12345678901234567u64}),
        };
        let direct = to_value(&s).map_err(|e| e.to_string());
        let via_json = serde_json::to_value(&s).map(Value::from).map_err(|e| e.to_string());
        assert_eq!(direct, via_json);
        assert!(direct.is_ok());
    }

    #[test]
    fn deep_copies_are_equal_and_keep_sets() {
        let value = Value::from_json_str(r#"{"a": [1, "x", {"b": null}], "n": 12345678901234567890123, "f": 1.5}"#).expect("json");
        let mut with_set = value.clone();
        if let Ok(map) = with_set.as_object_mut() {
            map.insert(Value::from("s"), Value::from(std::collections::BTreeSet::from([Value::from("m"), Value::from(2u64)])));
        }
        let copy = deep_copy(&with_set);
        assert_eq!(copy, with_set);
        assert!(matches!(&copy["s"], Value::Set(_)));
    }
}
