//! The settings of the deploy actions: `rolling-restart` and `rolling-update` (`order`, `pause`, `timeout`,
//! `ready`, `image` or `override` (see [`super::candidate`]), `healthy_within`) and `scale` (`count`), each checked at its place in the file.

use std::time::Duration;

use super::action::RawAction;
use super::error::ScenarioError;
use super::model::{Action, Order, Pick, Roll};
use super::parse::{Ctx, S};

/// The most instances a `scale` may ask for: enough for any drill, too few to exhaust a host by a typo.
pub const MAX_SCALE: u32 = 20;

/// A `rolling-restart` (`update` false) or a `rolling-update` from its settings.
pub(super) fn rolling(
    cx: &Ctx,
    raw: &S<RawAction>,
    update: bool,
    services: &[String],
) -> Result<Action, ScenarioError> {
    let a = raw.get_ref();
    if cx.swarm {
        refuse_on_swarm(cx, a, if update { "rolling-update" } else { "rolling-restart" })?;
    }
    let order = match a.order.as_ref() {
        None => Order::StopFirst,
        Some(o) => match o.get_ref().as_str() {
            "stop-first" => Order::StopFirst,
            "start-first" => Order::StartFirst,
            other => {
                return Err(
                    cx.err(o.span(), format!("order {other:?} is not \"stop-first\" or \"start-first\""))
                )
            }
        },
    };
    let ready = match a.ready.as_ref() {
        None => None,
        Some(r) => Some(ready_path(r.get_ref()).ok_or_else(|| {
            cx.err(r.span(), format!("ready {:?} must be \"GET /path\" (printable, no quotes)", r.get_ref()))
        })?),
    };
    let (image, candidate) = match (update, a.image.as_ref(), a.override_file.as_ref()) {
        (true, _, Some(o)) if cx.swarm => return Err(cx.err(
            o.span(),
            "override is not a setting of a swarm rolling-update: give image = \"...\" (or nothing, for a \
                 forced update on the same spec)",
        )),
        (true, None, None) if cx.swarm => (None, None),
        (true, None, None) => return Err(cx.err(
            raw.span(),
            "action \"rolling-update\" needs image = \"<the new image>\" or override = \"<compose file>\"",
        )),
        (true, Some(_), Some(o)) => {
            return Err(cx.err(o.span(), "image and override together: the override file may set the image"))
        }
        (true, Some(i), None) if !valid_image(i.get_ref()) => {
            return Err(cx.err(i.span(), format!("image {:?} is not an image reference", i.get_ref())))
        }
        (true, Some(i), None) => (Some(i.get_ref().clone()), None),
        (true, None, Some(o)) => {
            let c =
                super::candidate::read(cx.file, o.get_ref(), services).map_err(|e| cx.err(o.span(), e))?;
            (None, Some(c))
        }
        // An image or override on a rolling-restart was refused with the other foreign settings.
        (false, _, _) => (None, None),
    };
    let healthy_within = cx.opt_dur(&a.healthy_within, "healthy_within", Duration::from_secs(60))?;
    if healthy_within.is_zero() {
        let span = a.healthy_within.as_ref().map(|h| h.span()).unwrap_or(raw.span());
        return Err(cx.err(span, "healthy_within must be above 0"));
    }
    Ok(Action::Rolling(Roll {
        order,
        pause: cx.opt_dur(&a.pause, "pause", Duration::ZERO)?,
        timeout: cx.opt_dur(&a.timeout, "timeout", Duration::from_secs(10))?,
        ready,
        force: update && image.is_none() && candidate.is_none(),
        by_swarm: cx.swarm,
        image,
        candidate,
        healthy_within,
    }))
}

/// On Swarm the stack file's `update_config` says how tasks are replaced (order, parallelism, delay) and
/// Swarm's own health checks say when one is ready: the settings of hadrill's own replacement are refused.
fn refuse_on_swarm(cx: &Ctx, a: &RawAction, verb: &str) -> Result<(), ScenarioError> {
    let own = [("order", &a.order), ("pause", &a.pause), ("ready", &a.ready), ("timeout", &a.timeout)];
    match own.into_iter().find_map(|(name, v)| Some((name, v.as_ref()?.span()))) {
        Some((name, span)) => Err(cx.err(
            span,
            format!(
                "{name} is not a setting of a swarm {verb}: Swarm replaces the tasks as the stack file's \
                 update_config says (order, parallelism, delay)"
            ),
        )),
        None => Ok(()),
    }
}

/// A `scale`: one service, every instance of it, a count from 0 to [`MAX_SCALE`].
pub(super) fn scale(
    cx: &Ctx,
    raw: &S<RawAction>,
    target: std::ops::Range<usize>,
    services: &[String],
    pick: &Pick,
) -> Result<Action, ScenarioError> {
    let a = raw.get_ref();
    if services.len() != 1 {
        return Err(cx.err(target, "action \"scale\" takes one service"));
    }
    if *pick != Pick::All {
        let span = a.pick.as_ref().map(|p| p.span()).unwrap_or(raw.span());
        return Err(cx.err(span, "action \"scale\" acts on the whole service: no pick"));
    }
    let c =
        a.count.as_ref().ok_or_else(|| cx.err(raw.span(), "action \"scale\" needs count = <instances>"))?;
    match u32::try_from(*c.get_ref()) {
        Ok(n) if n <= MAX_SCALE => Ok(Action::Scale { count: n }),
        _ => Err(cx.err(c.span(), format!("count {} must be from 0 to {MAX_SCALE}", c.get_ref()))),
    }
}

/// The path of `GET /path`.
fn ready_path(v: &str) -> Option<String> {
    let path = v.strip_prefix("GET ")?.trim();
    let ok = path.starts_with('/')
        && path.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '\'' | '"' | '\\' | '`' | '$'));
    ok.then(|| path.to_string())
}

/// `name[:tag][@digest]` in the characters Docker allows.
fn valid_image(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 255
        && v.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        && !v.starts_with(['-', '.', ':', '/'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse::parse;

    const HEAD: &str =
        "name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"30s\"\n[[fault]]\nat = \"5s\"\n";

    fn check(body: &str) -> Result<Action, (usize, usize, String)> {
        match parse(std::path::Path::new("t.toml"), &format!("{HEAD}{body}")) {
            Ok(s) => Ok(s.actions[0].action.clone()),
            Err(e) => Err((e.line, e.col, e.message)),
        }
    }

    #[test]
    fn a_rolling_restart_parses_with_its_defaults() {
        let a = check(
            "action = \"rolling-restart\"\ntarget = [\"app1\", \"app2\"]\norder = \"start-first\"\n\
             pause = \"2s\"\nready = \"GET /health\"\n",
        )
        .unwrap();
        let Action::Rolling(r) = a else { panic!("{a:?}") };
        assert_eq!(r.order, Order::StartFirst);
        assert_eq!(r.pause, Duration::from_secs(2));
        assert_eq!(r.timeout, Duration::from_secs(10));
        assert_eq!(r.ready.as_deref(), Some("/health"));
        assert_eq!(r.image, None);
    }

    #[test]
    fn deploy_settings_are_checked_at_their_place() {
        let (line, col, msg) =
            check("action = \"rolling-restart\"\ntarget = \"app1\"\norder = \"sideways\"\n").unwrap_err();
        assert_eq!((line, col), (8, 9));
        assert!(msg.contains("\"sideways\""), "{msg}");
        let (line, _, msg) = check("action = \"rolling-update\"\ntarget = \"app1\"\n").unwrap_err();
        assert_eq!(line, 4);
        assert!(msg.contains("needs image"), "{msg}");
        let (line, col, msg) =
            check("action = \"rolling-update\"\ntarget = \"app1\"\noverride = \"no-such.yml\"\n")
                .unwrap_err();
        assert_eq!((line, col), (8, 12), "{msg}");
        assert!(msg.contains("no-such.yml"), "{msg}");
        let (line, _, msg) =
            check("action = \"rolling-update\"\ntarget = \"app1\"\nimage = \"a:b\"\noverride = \"c.yml\"\n")
                .unwrap_err();
        assert_eq!(line, 9);
        assert!(msg.contains("image and override together"), "{msg}");
        let (line, _, msg) =
            check("action = \"rolling-restart\"\ntarget = \"app1\"\nimage = \"a:b\"\n").unwrap_err();
        assert_eq!(line, 8);
        assert!(msg.contains("image is not a setting of action \"rolling-restart\""), "{msg}");
        let (line, _, msg) =
            check("action = \"kill\"\ntarget = \"app1\"\norder = \"start-first\"\n").unwrap_err();
        assert_eq!(line, 8);
        assert!(msg.contains("order is not a setting of action \"kill\""), "{msg}");
    }

    #[test]
    fn scale_takes_one_service_and_a_bounded_count() {
        assert_eq!(
            check("action = \"scale\"\ntarget = \"app1\"\ncount = 3\n").unwrap(),
            Action::Scale { count: 3 }
        );
        let (line, _, msg) = check("action = \"scale\"\ntarget = \"app1\"\ncount = 99\n").unwrap_err();
        assert_eq!(line, 8);
        assert!(msg.contains("count 99 must be from 0 to 20"), "{msg}");
        let (_, _, msg) =
            check("action = \"scale\"\ntarget = [\"app1\", \"app2\"]\ncount = 2\n").unwrap_err();
        assert!(msg.contains("takes one service"), "{msg}");
        let (_, _, msg) = check("action = \"scale\"\ntarget = \"app1\"\n").unwrap_err();
        assert!(msg.contains("needs count"), "{msg}");
    }

    #[test]
    fn on_swarm_a_rolling_update_may_be_forced_and_the_file_decides_the_order() {
        let head = "name = \"x\"\nstack = \"swarm-web-pg\"\nduration = \"30s\"\n[[fault]]\nat = \"5s\"\n";
        let sc = |body: &str| parse(std::path::Path::new("t.toml"), &format!("{head}{body}"));
        let forced = sc("action = \"rolling-update\"\ntarget = \"app\"\n").unwrap();
        let Action::Rolling(r) = &forced.actions[0].action else { panic!("{:?}", forced.actions[0]) };
        assert!(r.force && r.image.is_none(), "{r:?}");
        assert_eq!(forced.actions[0].action.name(), "rolling-update");
        let to =
            sc("action = \"rolling-update\"\ntarget = \"app\"\nimage = \"hadrill/demo:next\"\n").unwrap();
        let Action::Rolling(r) = &to.actions[0].action else { panic!() };
        assert!(!r.force && r.image.as_deref() == Some("hadrill/demo:next"), "{r:?}");
        let e = sc("action = \"rolling-update\"\ntarget = \"app\"\norder = \"stop-first\"\n").unwrap_err();
        assert_eq!((e.line, e.col), (8, 9));
        assert!(e.message.contains("order is not a setting of a swarm rolling-update"), "{}", e.message);
        assert!(e.message.contains("update_config"), "{}", e.message);
        let e = sc("action = \"rolling-restart\"\ntarget = \"app\"\npause = \"1s\"\n").unwrap_err();
        assert!(e.message.contains("pause is not a setting of a swarm rolling-restart"), "{}", e.message);
        let e =
            sc("action = \"rolling-update\"\ntarget = \"app\"\noverride = \"candidate.yml\"\n").unwrap_err();
        assert_eq!(e.line, 8, "{}", e.message);
        assert!(e.message.contains("override is not a setting of a swarm rolling-update"), "{}", e.message);
    }

    #[test]
    fn ready_takes_a_plain_get() {
        assert_eq!(ready_path("GET /health"), Some("/health".into()));
        assert_eq!(ready_path("GET /ready?x=1"), Some("/ready?x=1".into()));
        assert_eq!(ready_path("POST /health"), None);
        assert_eq!(ready_path("GET health"), None);
        assert_eq!(ready_path("GET /a'b"), None);
        assert_eq!(ready_path("GET /$(id)"), None);
    }

    #[test]
    fn images_are_references() {
        assert!(valid_image("myapp:candidate"));
        assert!(valid_image("registry.local:5000/team/app@sha256:abc"));
        assert!(!valid_image(""));
        assert!(!valid_image("my app"));
        assert!(!valid_image("-x"));
    }
}
