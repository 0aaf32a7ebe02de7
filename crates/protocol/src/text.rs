//! Text a learner reads, carried in both of the lab's languages.

use serde::{Deserialize, Serialize};

/// The languages the lab speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// English.
    #[default]
    #[serde(rename = "en")]
    English,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    Chinese,
}

impl Language {
    /// Picks a language from a tag such as `zh-CN`, `zh_CN.UTF-8` or `en-US`: `zh…` is Chinese,
    /// anything else English.
    pub fn from_tag(tag: &str) -> Language {
        if tag.trim().to_ascii_lowercase().starts_with("zh") { Language::Chinese } else { Language::English }
    }

    /// The tag used in files and URLs: `en` or `zh-CN`.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Chinese => "zh-CN",
        }
    }
}

/// One sentence (or Markdown passage) in English and Simplified Chinese.
///
/// The engine always fills both, so switching language in the UI needs no round trip.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// English.
    pub en: String,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    pub zh: String,
}

impl Text {
    /// A text from its two translations.
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Text {
        Text { en: en.into(), zh: zh.into() }
    }

    /// The same words in both languages (a name, a command, kubectl's own output).
    pub fn same(both: impl Into<String>) -> Text {
        let both = both.into();
        Text { en: both.clone(), zh: both }
    }

    /// The text in one language.
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::English => &self.en,
            Language::Chinese => &self.zh,
        }
    }

    /// Whether both translations are empty.
    pub fn is_empty(&self) -> bool {
        self.en.is_empty() && self.zh.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_pick_chinese_only_for_zh() {
        assert_eq!(Language::from_tag("zh_CN.UTF-8"), Language::Chinese);
        assert_eq!(Language::from_tag("zh-CN"), Language::Chinese);
        assert_eq!(Language::from_tag("en_US.UTF-8"), Language::English);
        assert_eq!(Language::from_tag(""), Language::English);
    }

    #[test]
    fn text_serialises_with_the_file_tags() {
        let json = serde_json::to_string(&Text::new("hi", "你好")).unwrap();
        assert_eq!(json, r#"{"en":"hi","zh-CN":"你好"}"#);
    }
}
