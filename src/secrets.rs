//! Secret values: what a scenario's `${VAR}` placeholders took from hadrill's environment. They are registered
//! once, when the scenario is read, and every text hadrill writes where a person or a CI log can see it (the
//! report folder, error messages, log lines) goes through [`redact`], which puts the placeholder back.
//!
//! A process-wide set rather than a value passed around: a secret can surface in any error or observer message,
//! far from the scenario that named it, and missing one place would leak it.

use std::borrow::Cow;
use std::sync::RwLock;

/// `(name, value)` pairs, longest value first so that a secret containing another is replaced whole.
static SECRETS: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// Remembers `value` (taken from the variable `name`) as a secret. Empty values are not secrets.
pub fn register(name: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    let mut s = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if s.iter().any(|(_, v)| v == value) {
        return;
    }
    s.push((name.to_string(), value.to_string()));
    s.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
}

/// `text` with every registered secret replaced by its placeholder `${NAME}`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let s = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|(_, v)| text.contains(v.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for (name, value) in s.iter() {
        out = out.replace(value.as_str(), &format!("${{{name}}}"));
    }
    Cow::Owned(out)
}

/// `value` with every string in it redacted (through its JSON form): a report is redacted once, before any
/// view renders it, so that no escaping (JSON, HTML, XML) can hide a secret from [`redact`].
pub fn redact_value<T: serde::Serialize + serde::de::DeserializeOwned + Clone>(value: &T) -> T {
    if SECRETS.read().unwrap_or_else(|e| e.into_inner()).is_empty() {
        return value.clone();
    }
    let Ok(mut json) = serde_json::to_value(value) else {
        return value.clone();
    };
    redact_strings(&mut json);
    serde_json::from_value(json).unwrap_or_else(|_| value.clone())
}

fn redact_strings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_strings),
        serde_json::Value::Object(o) => o.values_mut().for_each(redact_strings),
        _ => {}
    }
}

/// A writer that redacts what goes through it, line by line as written (for the log output).
pub struct Redacting<W>(pub W);

impl<W: std::io::Write> std::io::Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_replaced_by_their_placeholder() {
        register("HD_TEST_TOKEN", "s3cr3t-t0ken-abc");
        register("HD_TEST_TOKEN_LONG", "s3cr3t-t0ken-abc-and-more");
        register("HD_TEST_EMPTY", "");
        let t = redact("Bearer s3cr3t-t0ken-abc-and-more; again s3cr3t-t0ken-abc.");
        assert_eq!(t, "Bearer ${HD_TEST_TOKEN_LONG}; again ${HD_TEST_TOKEN}.");
        assert!(matches!(redact("nothing secret here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_appears_nowhere_in_a_written_report_folder() {
        let secret = "Rep<ort>\"S3cret&1";
        register("HD_TEST_REPORT_SECRET", secret);
        let mut r = crate::report::fixture::report();
        r.scenario.description = format!("orders with token {secret}");
        r.scenario.name = "secret-test".into();
        r.actions[0].detail = format!("exec curl -H 'Authorization: Bearer {secret}'");
        let root = std::env::temp_dir().join(format!("hadrill-secret-test-{}", std::process::id()));
        let dir = crate::report::write::write_all(&root, &r).unwrap();
        let escaped = [
            secret.to_string(),
            serde_json::to_string(secret).unwrap().trim_matches('"').to_string(),
            "Rep&lt;ort&gt;".to_string(),
            "S3cret&amp;1".to_string(),
            "S3cret".to_string(),
        ];
        let mut files = 0;
        for f in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            files += 1;
            for e in &escaped {
                assert!(!text.contains(e.as_str()), "{e:?} in the report folder");
            }
        }
        assert!(files >= 4, "report.json, .md, .html, junit.xml: {files}");
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(md.contains("${HD_TEST_REPORT_SECRET}"), "the placeholder stands in its place");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_log_writer_redacts() {
        register("HD_TEST_LOG", "log-pass-9876");
        let mut w = Redacting(Vec::new());
        std::io::Write::write_all(&mut w, b"connect password=log-pass-9876 failed\n").unwrap();
        assert_eq!(String::from_utf8(w.0).unwrap(), "connect password=${HD_TEST_LOG} failed\n");
    }
}
