//! Request templates of a user's workload: text with placeholders (`{key}`, `{seq}`, `{prefix}`,
//! `{last_key}`, `{uuid}`, `{rand}`, `{now_ms}`), parsed once when the scenario is read and rendered per
//! request without parsing again. A `{` not followed by a name and `}` is text (JSON bodies), and so is
//! `${VAR}` (the scenario's variables, expanded in the literal text when the scenario is read).

use std::fmt::Write;

use rand::Rng;

use super::keys::key_for;

/// A placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Seq,
    Prefix,
    LastKey,
    Uuid,
    Rand,
    NowMs,
}

/// The placeholder names, as written between braces.
pub const NAMES: [&str; 7] = ["key", "seq", "prefix", "last_key", "uuid", "rand", "now_ms"];
const PARTS: [Part; 7] =
    [Part::Key, Part::Seq, Part::Prefix, Part::LastKey, Part::Uuid, Part::Rand, Part::NowMs];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Var(Part),
}

/// A parsed template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    segs: Vec<Seg>,
}

/// What a request's placeholders stand for.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub prefix: &'a str,
    /// The write's sequence number; for a read, the newest acknowledged write's.
    pub seq: u32,
    /// The newest acknowledged write's sequence number.
    pub last_acked: u32,
}

impl Template {
    /// Parses `s`; an unknown `{name}` is an error giving the name.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('{') {
            let after = &rest[i + 1..];
            let name_len =
                after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let is_var = name_len > 0 && after[name_len..].starts_with('}') && !rest[..i].ends_with('$');
            if !is_var {
                lit.push_str(&rest[..=i]);
                rest = after;
                continue;
            }
            let name = &after[..name_len];
            let part =
                NAMES.iter().position(|n| *n == name).map(|p| PARTS[p]).ok_or_else(|| name.to_string())?;
            lit.push_str(&rest[..i]);
            if !lit.is_empty() {
                segs.push(Seg::Lit(std::mem::take(&mut lit)));
            }
            segs.push(Seg::Var(part));
            rest = &after[name_len + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        Ok(Template { segs })
    }

    /// The template with `f` applied to its literal text.
    pub fn map_literals(self, f: impl Fn(&str) -> String) -> Template {
        let segs = self
            .segs
            .into_iter()
            .map(|s| match s {
                Seg::Lit(l) => Seg::Lit(f(&l)),
                v => v,
            })
            .collect();
        Template { segs }
    }

    pub fn uses(&self, part: Part) -> bool {
        self.segs.contains(&Seg::Var(part))
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Appends the rendered text to `out`.
    pub fn render_into(&self, v: &Values, out: &mut String) {
        for s in &self.segs {
            match s {
                Seg::Lit(l) => out.push_str(l),
                Seg::Var(Part::Key) => out.push_str(&key_for(v.prefix, v.seq)),
                Seg::Var(Part::Seq) => {
                    let _ = write!(out, "{}", v.seq);
                }
                Seg::Var(Part::Prefix) => out.push_str(v.prefix),
                Seg::Var(Part::LastKey) => out.push_str(&key_for(v.prefix, v.last_acked)),
                Seg::Var(Part::Uuid) => uuid_v4(out),
                Seg::Var(Part::Rand) => {
                    let _ = write!(out, "{}", rand::thread_rng().gen::<u32>());
                }
                Seg::Var(Part::NowMs) => {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                    let _ = write!(out, "{}", now.map(|d| d.as_millis()).unwrap_or(0));
                }
            }
        }
    }

    pub fn render(&self, v: &Values) -> String {
        let mut out = String::new();
        self.render_into(v, &mut out);
        out
    }

    /// The template as written, placeholders shown by name (literal text as expanded: for paths only, which
    /// hold no secrets by convention; a report shows a workload by method and path template).
    pub fn shown(&self) -> String {
        let mut out = String::new();
        for s in &self.segs {
            match s {
                Seg::Lit(l) => out.push_str(l),
                Seg::Var(p) => {
                    let name = NAMES[PARTS.iter().position(|x| x == p).unwrap_or(0)];
                    let _ = write!(out, "{{{name}}}");
                }
            }
        }
        out
    }
}

/// A random (version 4) UUID.
fn uuid_v4(out: &mut String) {
    let mut b: [u8; 16] = rand::thread_rng().gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    for (i, x) in b.iter().enumerate() {
        if [4, 6, 8, 10].contains(&i) {
            out.push('-');
        }
        let _ = write!(out, "{x:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Values = Values { prefix: "hd-ab-", seq: 42, last_acked: 7 };

    #[test]
    fn placeholders_render_and_json_braces_stay_text() {
        let t = Template::parse(r#"{"ref": "{key}", "n": {seq}, "p": "{prefix}", "last": "{last_key}"}"#)
            .unwrap();
        assert_eq!(
            t.render(&V),
            r#"{"ref": "hd-ab-0000000042", "n": 42, "p": "hd-ab-", "last": "hd-ab-0000000007"}"#
        );
        assert!(t.uses(Part::Key) && t.uses(Part::LastKey) && !t.uses(Part::Uuid));
        assert_eq!(Template::parse("/a/{}/b{").unwrap().render(&V), "/a/{}/b{");
        assert_eq!(Template::parse("Bearer ${TOKEN}").unwrap().render(&V), "Bearer ${TOKEN}");
        assert_eq!(Template::parse("/o/{nope}").unwrap_err(), "nope");
        assert_eq!(Template::parse("/o/{key}/x").unwrap().shown(), "/o/{key}/x");
    }

    #[test]
    fn random_parts_differ_and_have_their_shape() {
        let t = Template::parse("{uuid} {rand} {now_ms}").unwrap();
        let (a, b) = (t.render(&V), t.render(&V));
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split(' ').collect();
        assert_eq!(parts[0].len(), 36);
        assert_eq!(&parts[0][14..15], "4", "{a}");
        assert!(parts[1].parse::<u32>().is_ok() && parts[2].parse::<u64>().unwrap() > 1_600_000_000_000);
    }

    #[test]
    fn literals_are_mapped_and_placeholders_kept() {
        let t = Template::parse("Bearer ${T}/{seq}").unwrap().map_literals(|l| l.replace("${T}", "x"));
        assert_eq!(t.render(&V), "Bearer x/42");
    }
}
