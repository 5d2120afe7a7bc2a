//! `pick = ...` in a fault: `"all"`, `"one"`, or a role decided when the fault is injected (`"primary"`,
//! `"leader"`, `"master"`), or `"where"` with `where = ["sh", "-c", "..."]` run in each candidate.

use std::path::Path;

use toml::Spanned;

use super::error::ScenarioError;
use super::model::Pick;

/// Reads `pick` and `where`; `observe` is the stack's observers, which the roles are asked through.
pub fn parse(
    file: &Path,
    text: &str,
    pick: Option<&Spanned<String>>,
    where_cmd: Option<&Spanned<Vec<String>>>,
    observe: &crate::stack::resolve::ObserveSpec,
) -> Result<Pick, ScenarioError> {
    let err = |span, msg: String| ScenarioError::at(file, text, Some(span), msg);
    let value = pick.map(|p| (p.get_ref().as_str(), p.span()));
    let needs = |have: bool, span, role: &str, what: &str| {
        if have {
            Ok(())
        } else {
            Err(err(
                span,
                format!("pick {role:?} asks the stack's {what}: name them in [observe] {what} = [...]"),
            ))
        }
    };
    let out = match value {
        None | Some(("all", _)) => Pick::All,
        Some(("one", _)) => Pick::One,
        Some(("primary", span)) => {
            needs(!observe.postgres.is_empty(), span, "primary", "postgres")?;
            Pick::Primary
        }
        Some(("leader", span)) => {
            needs(!observe.patroni.is_empty(), span, "leader", "patroni")?;
            Pick::Leader
        }
        Some(("master", span)) => {
            needs(!observe.sentinel.is_empty(), span, "master", "sentinel")?;
            Pick::Master
        }
        Some(("where", span)) => match where_cmd {
            Some(w) if !w.get_ref().is_empty() => Pick::Where(w.get_ref().clone()),
            Some(w) => return Err(err(w.span(), "where is empty".into())),
            None => return Err(err(span, "pick \"where\" needs where = [\"sh\", \"-c\", \"...\"]".into())),
        },
        Some((other, span)) => {
            let known = "\"all\", \"one\", \"primary\", \"leader\", \"master\" or \"where\"";
            return Err(err(span, format!("pick {other:?} must be {known}")));
        }
    };
    if let (Some(w), false) = (where_cmd, matches!(out, Pick::Where(_))) {
        return Err(err(w.span(), "where is a setting of pick = \"where\"".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::scenario::model::Pick;
    use std::path::Path;

    fn pick_of(stack: &str, body: &str) -> Result<Pick, String> {
        let text = format!(
            "stack = \"{stack}\"\nduration = \"30s\"\n[[fault]]\nat = \"1s\"\naction = \"kill\"\ntarget = [\"pg-primary\", \"pg-replica\"]\n{body}"
        );
        crate::scenario::parse(Path::new("s.toml"), &text)
            .map(|s| s.actions[0].target.pick.clone())
            .map_err(|e| format!("{}:{}: {}", e.line, e.col, e.message))
    }

    #[test]
    fn roles_and_where_parse_and_need_what_they_ask() {
        assert_eq!(pick_of("web-haproxy-pg", "pick = \"primary\"\n"), Ok(Pick::Primary));
        assert_eq!(
            pick_of("web-haproxy-pg", "pick = \"where\"\nwhere = [\"sh\", \"-c\", \"true\"]\n"),
            Ok(Pick::Where(vec!["sh".into(), "-c".into(), "true".into()]))
        );
        let e = pick_of("web-haproxy-pg", "pick = \"leader\"\n").unwrap_err();
        assert!(e.starts_with("7:8: ") && e.contains("[observe] patroni"), "{e}");
        let e = pick_of("web-haproxy-pg", "pick = \"where\"\n").unwrap_err();
        assert!(e.contains("needs where"), "{e}");
        let e = pick_of("web-haproxy-pg", "pick = \"one\"\nwhere = [\"true\"]\n").unwrap_err();
        assert!(e.contains("where is a setting of pick = \"where\""), "{e}");
        let e = pick_of("web-haproxy-pg", "pick = \"newest\"\n").unwrap_err();
        assert!(e.contains("pick \"newest\" must be"), "{e}");
    }
}
