//! Name and key formats (DNS-1123 labels and subdomains, qualified names, ports), with upstream's messages.

/// Upstream's alphabet for generated name parts: no vowels, no look-alike characters.
pub const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Each byte spelt as one character of [`SAFE_ALPHABET`], as upstream's `SafeEncodeString`.
pub fn safe_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| SAFE_ALPHABET[*b as usize % SAFE_ALPHABET.len()] as char).collect()
}

/// Five random characters of [`SAFE_ALPHABET`]: the suffix a `generateName` gets.
pub fn random_suffix() -> String {
    safe_encode(&uuid::Uuid::new_v4().into_bytes()[..5])
}

/// The longest DNS-1123 label.
const LABEL_MAX: usize = 63;
/// The longest DNS-1123 subdomain.
const SUBDOMAIN_MAX: usize = 253;

const LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and \
    must start and end with an alphanumeric character";
const SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' \
    or '.', and must start and end with an alphanumeric character";
const DNS1035_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an \
    alphabetic character, and end with an alphanumeric character";
const QUALIFIED_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_MSG: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' \
    or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

/// Upstream's wording for a string over its length limit.
pub fn max_len_error(limit: usize) -> String {
    format!("must be no more than {limit} characters")
}

/// Upstream's wording for a pattern mismatch: the rule, examples, then the regex it documents.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    // Upstream joins examples as "'a',  or 'b', " (two spaces): kept so messages match byte for byte.
    let shown: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!("{msg} (e.g. {}regex used for validation is '{fmt}')", shown.join(" or "))
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` without a regex engine.
fn is_label_shape(s: &str) -> bool {
    let first_ok = s.chars().next().is_some_and(is_lower_alnum);
    let last_ok = s.chars().last().is_some_and(is_lower_alnum);
    first_ok && last_ok && s.chars().all(|c| is_lower_alnum(c) || c == '-')
}

fn is_subdomain_shape(s: &str) -> bool {
    s.split('.').all(is_label_shape)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`: alphanumeric ends, `-_.` allowed inside.
fn is_qualified_shape(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.chars().next().is_some_and(alnum)
        && s.chars().last().is_some_and(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// Problems with a name that must be a DNS-1123 subdomain; empty when it is fine.
pub fn validate_dns1123_subdomain(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > SUBDOMAIN_MAX {
        errs.push(max_len_error(SUBDOMAIN_MAX));
    }
    if !is_subdomain_shape(name) {
        errs.push(regex_error(SUBDOMAIN_MSG, SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

/// Problems with a name that must be a DNS-1123 label; empty when it is fine.
pub fn validate_dns1123_label(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > LABEL_MAX {
        errs.push(max_len_error(LABEL_MAX));
    }
    if !is_label_shape(name) {
        if is_subdomain_shape(name) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(LABEL_MSG, LABEL_FMT, &["my-name", "123-abc"]));
        }
    }
    errs
}

/// Problems with a name that must be an RFC 1035 label (a letter first), as Service names are.
pub fn validate_dns1035_label(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > LABEL_MAX {
        errs.push(max_len_error(LABEL_MAX));
    }
    if !(is_label_shape(name) && name.starts_with(|c: char| c.is_ascii_lowercase())) {
        errs.push(regex_error(DNS1035_MSG, DNS1035_FMT, &["my-name", "abc-123"]));
    }
    errs
}

/// Problems with a name used as one URL path segment (RBAC objects): not `.`/`..`, no `/` or `%`.
pub fn validate_path_segment_name(name: &str, prefix: bool) -> Vec<String> {
    if !prefix && let Some(bad) = [".", ".."].into_iter().find(|bad| name == *bad) {
        return vec![format!("may not be '{bad}'")];
    }
    ["/", "%"].into_iter().filter(|bad| name.contains(bad)).map(|bad| format!("may not contain '{bad}'")).collect()
}

/// Problems with a qualified name (label and annotation keys): an optional subdomain prefix and `/`, then a name.
pub fn validate_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(validate_dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            let shape = regex_error(QUALIFIED_MSG, QUALIFIED_FMT, &["MyName", "my.name", "123-abc"]);
            return vec![format!(
                "a qualified name {shape} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_MAX {
        errs.push(format!("name part {}", max_len_error(LABEL_MAX)));
    }
    if !is_qualified_shape(name) {
        errs.push(format!(
            "name part {}",
            regex_error(QUALIFIED_MSG, QUALIFIED_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

/// Problems with a label value: empty, or a qualified-name shape of at most 63 characters.
pub fn validate_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_MAX {
        errs.push(max_len_error(LABEL_MAX));
    }
    if !value.is_empty() && !is_qualified_shape(value) {
        errs.push(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errs
}

/// Problems with a ConfigMap or Secret key.
pub fn validate_config_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > SUBDOMAIN_MAX {
        errs.push(max_len_error(SUBDOMAIN_MAX));
    }
    let shape_ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !shape_ok {
        errs.push(regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, &["key.name", "KEY_NAME", "key-name"]));
    }
    // Keys become file names in volumes, so they may not walk up the directory tree.
    match key {
        "." => errs.push("must not be '.'".to_string()),
        ".." => errs.push("must not be '..'".to_string()),
        k if k.starts_with("..") => errs.push("must not start with '..'".to_string()),
        _ => {}
    }
    errs
}

/// Problems with a named port (`http`, `metrics`): at most 15 of `[-a-z0-9]`, one letter, no edge or double hyphens.
pub fn validate_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty() || !port.chars().all(|c| is_lower_alnum(c) || c == '-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !port.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Problems with a port number: it must lie in 1..=65535.
pub fn validate_port_number(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) { Vec::new() } else { vec!["must be between 1 and 65535, inclusive".to_string()] }
}

/// How a kind's `metadata.name` is checked.
#[derive(Clone, Copy)]
enum NameRule {
    Subdomain,
    Label,
    Dns1035,
    PathSegment,
}

/// Kinds whose names follow a rule other than the usual DNS-1123 subdomain.
const NAME_RULES: &[(&str, NameRule)] = &[
    ("Namespace", NameRule::Label),
    ("Service", NameRule::Dns1035),
    ("Role", NameRule::PathSegment),
    ("ClusterRole", NameRule::PathSegment),
    ("RoleBinding", NameRule::PathSegment),
    ("ClusterRoleBinding", NameRule::PathSegment),
];

fn name_rule(kind: &str) -> NameRule {
    NAME_RULES.iter().find(|(k, _)| *k == kind).map_or(NameRule::Subdomain, |(_, rule)| *rule)
}

/// Problems with `metadata.name` for this kind (namespaces and services need labels, most kinds subdomains).
pub fn validate_object_name(kind: &str, name: &str) -> Vec<String> {
    check_name(kind, name, false)
}

/// Problems with `metadata.generateName`: the same rule, but a trailing `-` is allowed since a suffix follows.
pub fn validate_generate_name(kind: &str, prefix: &str) -> Vec<String> {
    check_name(kind, prefix, true)
}

fn check_name(kind: &str, name: &str, prefix: bool) -> Vec<String> {
    let rule = name_rule(kind);
    if let NameRule::PathSegment = rule {
        return validate_path_segment_name(name, prefix);
    }
    // A prefix ending in '-' is judged as if a letter followed, like upstream's masking.
    let masked;
    let name = match name.strip_suffix('-') {
        Some(stem) if prefix && !stem.is_empty() => {
            masked = format!("{stem}a");
            masked.as_str()
        }
        _ => name,
    };
    match rule {
        NameRule::Label => validate_dns1123_label(name),
        NameRule::Dns1035 => validate_dns1035_label(name),
        _ => validate_dns1123_subdomain(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
        '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for \
        validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
        and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for \
        validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const DNS1035_ERR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with \
        an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used \
        for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

    #[test]
    fn subdomains_accept_dotted_lowercase_names_and_reject_the_rest() {
        let cases: &[(&str, &[&str])] = &[
            ("nginx", &[]),
            ("web.example.com", &[]),
            ("a-1.b-2", &[]),
            ("Nginx", &[SUBDOMAIN_ERR]),
            ("-nginx", &[SUBDOMAIN_ERR]),
            ("nginx.", &[SUBDOMAIN_ERR]),
            ("a..b", &[SUBDOMAIN_ERR]),
            ("", &[SUBDOMAIN_ERR]),
            ("my_app", &[SUBDOMAIN_ERR]),
        ];
        for (name, want) in cases {
            assert_eq!(validate_dns1123_subdomain(name), *want, "{name:?}");
        }
    }

    #[test]
    fn an_overlong_subdomain_reports_the_length_limit() {
        let long = "a".repeat(254);
        assert_eq!(validate_dns1123_subdomain(&long), ["must be no more than 253 characters"]);
    }

    #[test]
    fn labels_reject_dots_with_their_own_message() {
        let cases: &[(&str, &[&str])] = &[
            ("team-a", &[]),
            ("0abc", &[]),
            ("team.a", &["must not contain dots"]),
            ("Team", &[LABEL_ERR]),
            ("team-", &[LABEL_ERR]),
        ];
        for (name, want) in cases {
            assert_eq!(validate_dns1123_label(name), *want, "{name:?}");
        }
        assert_eq!(validate_dns1123_label(&"a".repeat(64)), ["must be no more than 63 characters"]);
    }

    #[test]
    fn service_names_must_start_with_a_letter() {
        assert!(validate_object_name("Service", "web").is_empty());
        assert_eq!(validate_object_name("Service", "1web"), [DNS1035_ERR]);
        assert_eq!(validate_object_name("Service", "web.svc"), [DNS1035_ERR]);
    }

    #[test]
    fn namespace_names_are_labels_and_most_kinds_are_subdomains() {
        assert_eq!(validate_object_name("Namespace", "team.a"), ["must not contain dots"]);
        assert!(validate_object_name("Deployment", "web.v2").is_empty());
        assert_eq!(validate_object_name("Pod", "Web"), [SUBDOMAIN_ERR]);
    }

    #[test]
    fn rbac_names_are_path_segments() {
        assert!(validate_object_name("ClusterRole", "system:controller:job-controller").is_empty());
        assert_eq!(validate_object_name("Role", ".."), ["may not be '..'"]);
        assert_eq!(validate_object_name("RoleBinding", "a/b%c"), ["may not contain '/'", "may not contain '%'"]);
    }

    #[test]
    fn generate_name_prefixes_may_end_with_a_dash() {
        assert!(validate_generate_name("Pod", "web-").is_empty());
        assert!(validate_generate_name("Service", "web-").is_empty());
        assert_eq!(validate_generate_name("Pod", "Web-"), [SUBDOMAIN_ERR]);
    }

    #[test]
    fn qualified_names_check_prefix_and_name_parts() {
        let name_err = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end \
            with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
            '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        assert!(validate_qualified_name("app.kubernetes.io/name").is_empty());
        assert!(validate_qualified_name("App_Name").is_empty());
        assert_eq!(validate_qualified_name("app/"), ["name part must be non-empty", name_err]);
        assert_eq!(validate_qualified_name("/app"), ["prefix part must be non-empty"]);
        assert_eq!(validate_qualified_name("Example.com/app"), [format!("prefix part {SUBDOMAIN_ERR}")]);
        assert_eq!(validate_qualified_name("-app"), [name_err]);
        assert!(validate_qualified_name("a/b/c")[0].starts_with("a qualified name must consist of"));
        assert_eq!(validate_qualified_name(&"a".repeat(64)), ["name part must be no more than 63 characters"]);
    }

    #[test]
    fn label_values_may_be_empty_but_not_malformed() {
        let value_err = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or \
            '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', \
            regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
        assert!(validate_label_value("").is_empty());
        assert!(validate_label_value("v1.2_beta").is_empty());
        assert_eq!(validate_label_value("v1 "), [value_err]);
        assert_eq!(validate_label_value(&"a".repeat(64)), ["must be no more than 63 characters"]);
    }

    #[test]
    fn config_keys_allow_file_like_names_but_not_parent_paths() {
        let key_err = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  \
            or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
        assert!(validate_config_key("app.properties").is_empty());
        assert!(validate_config_key("GAME_MODE").is_empty());
        assert_eq!(validate_config_key("a b"), [key_err]);
        assert_eq!(validate_config_key(".."), ["must not be '..'"]);
        assert_eq!(validate_config_key("..data"), ["must not start with '..'"]);
    }

    #[test]
    fn port_names_and_numbers_follow_upstream_limits() {
        assert!(validate_port_name("http-alt").is_empty());
        assert_eq!(validate_port_name("8080"), ["must contain at least one letter (a-z)"]);
        assert_eq!(validate_port_name("a--b"), ["must not contain consecutive hyphens"]);
        assert_eq!(
            validate_port_name("HTTP"),
            [
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)"
            ]
        );
        assert!(validate_port_number(80).is_empty());
        assert_eq!(validate_port_number(0), ["must be between 1 and 65535, inclusive"]);
        assert_eq!(validate_port_number(70000), ["must be between 1 and 65535, inclusive"]);
    }
}
