//! `${VAR}` in a scenario file: the value of an environment variable of hadrill's, for what a scenario must not
//! hold in clear (passwords, API tokens). Every placeholder in the file is checked before anything starts (a
//! missing variable is a `file:line:col` error naming the variable, never a value), and every value is
//! registered as a secret (see [`crate::secrets`]) so that no report, log line or error shows it.
//!
//! Commands run in containers (`command` of an `exec` step, `where` of a pick) are left alone: there `${VAR}`
//! is the shell's, expanded in the container (e.g. `${HADRILL_KEY_PREFIX}`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use super::error::ScenarioError;

/// The variables a scenario uses, with their values (its `Debug` shows the names only).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values.keys()).finish()
    }
}

/// Every `${NAME}` in `text` (outside comment lines): the name and its byte offset.
fn placeholders(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if !line.trim_start().starts_with('#') {
            let mut from = 0;
            while let Some(i) = line[from..].find("${") {
                let start = from + i;
                let rest = &line[start + 2..];
                match rest.find('}') {
                    Some(end) if is_name(&rest[..end]) => {
                        out.push((rest[..end].to_string(), line_start + start));
                        from = start + 2 + end + 1;
                    }
                    _ => from = start + 2,
                }
            }
        }
        line_start += line.len();
    }
    out
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Vars {
    /// Reads the variables `text` names from `env` (the process environment in production) and registers
    /// their values as secrets. A missing variable is an error at its first use.
    /// Placeholders inside the byte ranges `shell` (commands run in containers) are not hadrill's.
    pub fn read(
        file: &Path,
        text: &str,
        shell: &[Range<usize>],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Vars, ScenarioError> {
        let mut values = BTreeMap::new();
        for (name, offset) in placeholders(text) {
            if values.contains_key(&name) || shell.iter().any(|r| r.contains(&offset)) {
                continue;
            }
            let Some(value) = env(&name) else {
                return Err(ScenarioError::at(
                    file,
                    text,
                    Some(offset..offset + name.len() + 3),
                    format!("environment variable {name} is not set (${{{name}}} takes its value from hadrill's environment)"),
                ));
            };
            crate::secrets::register(&name, &value);
            values.insert(name, value);
        }
        Ok(Vars { values })
    }

    /// `s` with each `${NAME}` replaced by its value (every name was checked by [`Vars::read`]).
    pub fn expand(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (name, value) in &self.values {
            out = out.replace(&format!("${{{name}}}"), value);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PGPASSWORD" => Some("pg-Secret-77".into()),
            "TOKEN" => Some("tok-123".into()),
            _ => None,
        }
    }

    #[test]
    fn placeholders_are_found_outside_comments_with_their_offsets() {
        let t = "a = \"${TOKEN}\"\n# b = \"${NOPE}\"\nc = \"x ${PGPASSWORD} ${ not} $PLAIN\"\n";
        let got = placeholders(t);
        assert_eq!(got, vec![("TOKEN".to_string(), 5), ("PGPASSWORD".to_string(), 38)]);
    }

    #[test]
    fn values_are_expanded_and_registered_as_secrets() {
        let t = "password = \"${PGPASSWORD}\"\nh = \"Bearer ${TOKEN}\"\n";
        let v = Vars::read(Path::new("s.toml"), t, &[], env).unwrap();
        assert_eq!(v.expand("user=app password=${PGPASSWORD}"), "user=app password=pg-Secret-77");
        assert_eq!(v.expand("Bearer ${TOKEN}/${TOKEN}"), "Bearer tok-123/tok-123");
        assert_eq!(crate::secrets::redact("pw pg-Secret-77"), "pw ${PGPASSWORD}");
        assert_eq!(format!("{v:?}"), r#"["PGPASSWORD", "TOKEN"]"#);
    }

    #[test]
    fn placeholders_in_container_commands_are_the_shells() {
        let t = "command = [\"sh\", \"-c\", \"echo ${HADRILL_KEY_PREFIX}\"]\npw = \"${TOKEN}\"\n";
        let cmd = 10..t.find(']').unwrap();
        let v = Vars::read(Path::new("s.toml"), t, &[cmd], env).unwrap();
        assert_eq!(format!("{v:?}"), r#"["TOKEN"]"#);
        assert!(Vars::read(Path::new("s.toml"), t, &[], env).is_err(), "outside a command it is hadrill's");
    }

    #[test]
    fn a_missing_variable_is_an_error_at_its_place_without_values() {
        let t = "name = \"x\"\npassword = \"${TOKEN}${MISSING_ONE}\"\n";
        let e = Vars::read(Path::new("s.toml"), t, &[], env).unwrap_err();
        assert_eq!((e.line, e.col), (2, 21));
        assert!(e.message.contains("MISSING_ONE is not set"), "{}", e.message);
        assert!(!e.message.contains("tok-123"), "{}", e.message);
    }
}
