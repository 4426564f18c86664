//! JSON objects a client gave (metadata, a note, disqualification data), kept as their text.
//!
//! They go from the request to the store and from the store to the answer as text, never
//! parsed into a tree on the way out: a page of leads takes memory proportional to its size,
//! and numbers come back as they were written.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// A JSON object as text (compact, as the request validator wrote it).
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct JsonObject(Box<RawValue>);

impl JsonObject {
    /// `raw` if it is a JSON object.
    pub fn from_raw(raw: Box<RawValue>) -> Result<Self, NotAnObject> {
        if raw.get().trim_start().starts_with('{') {
            Ok(Self(raw))
        } else {
            Err(NotAnObject)
        }
    }

    /// The text of a JSON object, which is checked to be JSON but not parsed into a tree.
    pub fn from_text(text: String) -> Result<Self, String> {
        let raw = RawValue::from_string(text).map_err(|error| error.to_string())?;
        Self::from_raw(raw).map_err(|error| error.to_string())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    pub fn into_raw(self) -> Box<RawValue> {
        self.0
    }
}

/// Two objects are equal when their texts are.
impl PartialEq for JsonObject {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Self::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

/// JSON text that is not an object.
#[derive(Debug)]
pub struct NotAnObject;

impl std::fmt::Display for NotAnObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a JSON object")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_keep_their_text_and_numbers() {
        let object: JsonObject = serde_json::from_str(r#"{"screenWidth":40,"lat":40.10}"#).unwrap();
        assert_eq!(object.as_str(), r#"{"screenWidth":40,"lat":40.10}"#);
        assert_eq!(serde_json::to_string(&object).unwrap(), object.as_str());
    }

    #[test]
    fn anything_but_an_object_is_refused() {
        assert!(serde_json::from_str::<JsonObject>("[1]").is_err());
        assert!(serde_json::from_str::<JsonObject>("1").is_err());
        assert!(JsonObject::from_text("{".to_string()).is_err());
        let text = json!({"a": 1}).to_string();
        assert_eq!(JsonObject::from_text(text).unwrap().as_str(), r#"{"a":1}"#);
    }
}
