//! Splits a command line into words as a POSIX shell would for simple commands: single quotes keep
//! everything, double quotes allow `\"` and `\\`, a backslash outside quotes escapes one character.

/// The words of `line`, or what is wrong with it.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("a single quote (') is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => current.push(c),
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err("a double quote (\") is not closed".into()),
                        },
                        Some(c) => current.push(c),
                        None => return Err("a double quote (\") is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    current.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes_group_words_as_a_shell_does() {
        assert_eq!(
            split_words(r#"kubectl patch deploy/web -p '{"spec":{"replicas":2}}' --type=merge"#).unwrap(),
            ["kubectl", "patch", "deploy/web", "-p", r#"{"spec":{"replicas":2}}"#, "--type=merge"]
        );
        assert_eq!(split_words(r#"a "b c" d\ e "x\"y""#).unwrap(), ["a", "b c", "d e", "x\"y"]);
        assert!(split_words("echo 'open").is_err());
    }
}
