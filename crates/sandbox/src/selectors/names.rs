//! Label key and value checks with upstream's messages, as the selector parser reports them.

const QUALIFIED_NAME_MSG: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// Upstream's way of explaining a pattern mismatch, with examples and the pattern itself.
fn regex_error(msg: &str, pattern: &str, examples: &[&str]) -> String {
    let shown: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{pattern}')",
        shown.join(" or ")
    )
}

fn max_len_error(max: usize) -> String {
    format!("must be no more than {max} characters")
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?` on the whole text.
fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    let ends_ok = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    ends_ok(b.first())
        && ends_ok(b.last())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// One lowercase RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let end_ok = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    end_ok(b.first())
        && end_ok(b.last())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !s.split('.').all(is_dns_label) {
        errs.push(regex_error(SUBDOMAIN_MSG, SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

/// Problems with a label key (`[prefix/]name`), empty when it is valid.
pub fn label_key_errors(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let mut errs = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(subdomain_errors(prefix).into_iter().map(|e| format!("prefix part {e}")));
            }
            *name
        }
        _ => {
            let base = regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"],
            );
            return vec![format!(
                "a qualified name {base} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !is_qualified_part(name) {
        let why = regex_error(
            QUALIFIED_NAME_MSG,
            QUALIFIED_NAME_FMT,
            &["MyName", "my.name", "123-abc"],
        );
        errs.push(format!("name part {why}"));
    }
    errs
}

/// Problems with a label value, empty when it is valid (the empty string is).
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !value.is_empty() && !is_qualified_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

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
        assert!(
            errs[0].starts_with("name part must consist of alphanumeric characters"),
            "{}",
            errs[0]
        );
        assert!(errs[0].contains("(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is"));
    }

    #[test]
    fn an_uppercase_prefix_is_not_a_subdomain() {
        let errs = label_key_errors("Example.com/x");
        assert!(
            errs[0].starts_with("prefix part a lowercase RFC 1123 subdomain"),
            "{errs:?}"
        );
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
        assert_eq!(
            label_key_errors(&"a".repeat(64))[0],
            "name part must be no more than 63 characters"
        );
    }

    #[test]
    fn label_values_may_be_empty_but_not_odd() {
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("v1.2_x-y").is_empty());
        assert!(label_value_errors("-x")[0].starts_with("a valid label must be an empty string"));
        assert_eq!(label_value_errors(&"a".repeat(64)), vec![max_len_error(63)]);
    }
}
