//! Label and field selectors, parsed from query strings and matched against objects.

use crate::registry::ResourceType;
use serde_json::Value;

/// A parsed `labelSelector` (placeholder: matches everything until implemented).
#[derive(Debug, Clone, Default)]
pub struct LabelSelector {}

impl LabelSelector {
    /// Parses `app=nginx,tier in (web),!legacy`; the error says what is wrong.
    pub fn parse(_text: &str) -> Result<Self, String> {
        Ok(Self {})
    }

    /// Whether an object's labels (`metadata.labels`, possibly absent) match.
    pub fn matches(&self, _labels: Option<&Value>) -> bool {
        true
    }
}

/// A parsed `fieldSelector` (placeholder: matches everything until implemented).
#[derive(Debug, Clone, Default)]
pub struct FieldSelector {}

impl FieldSelector {
    /// Parses `metadata.name=x,status.phase!=Running` for a kind; rejects fields the kind does not support.
    pub fn parse(_rt: &ResourceType, _text: &str) -> Result<Self, String> {
        Ok(Self {})
    }

    /// Whether the object matches.
    pub fn matches(&self, _obj: &Value) -> bool {
        true
    }
}
