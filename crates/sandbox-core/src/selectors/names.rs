//! Label key and value rules for selectors: the same rules (and messages) admission applies to
//! objects, so there is one implementation of them.

pub use crate::names::{validate_label_value as label_value_errors, validate_qualified_name as label_key_errors};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_prefixed_keys_are_valid() {
        assert!(label_key_errors("app").is_empty());
        assert!(label_key_errors("app.kubernetes.io/name").is_empty());
        assert!(label_key_errors("node-role.kubernetes.io/control-plane").is_empty());
    }

    #[test]
    fn a_key_with_a_bad_character_names_the_name_part() {
        let errs = label_key_errors("a@b");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("name part must consist of alphanumeric characters"), "{}", errs[0]);
        assert!(errs[0].contains("(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is"));
    }

    #[test]
    fn an_uppercase_prefix_is_not_a_subdomain() {
        let errs = label_key_errors("Example.com/x");
        assert!(errs[0].starts_with("prefix part a lowercase RFC 1123 subdomain"), "{errs:?}");
    }

    #[test]
    fn two_slashes_make_a_bad_qualified_name() {
        let errs = label_key_errors("a/b/c");
        assert!(errs[0].starts_with("a qualified name must consist"), "{errs:?}");
        assert!(errs[0].ends_with("(e.g. 'example.com/MyName')"));
    }

    #[test]
    fn empty_and_long_names_are_reported() {
        assert_eq!(label_key_errors("x/")[0], "name part must be non-empty");
        assert_eq!(label_key_errors(&"a".repeat(64))[0], "name part must be no more than 63 characters");
    }

    #[test]
    fn label_values_may_be_empty_but_not_odd() {
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("v1.2_x-y").is_empty());
        assert!(label_value_errors("-x")[0].starts_with("a valid label must be an empty string"));
        assert_eq!(label_value_errors(&"a".repeat(64)), vec!["must be no more than 63 characters".to_string()]);
    }
}
