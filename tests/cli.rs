//! The command line as users run it: exit codes and messages of `check`, `doctor`, `load`, `render`, `compare`.

mod common;

use std::process::Command;

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hadrill-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_reports_file_line_col_and_exits_2() {
    let bad = write("bad.toml", "name = \"x\"\nstack = \"web-haproxy-pg\"\nnot_a_key = 3\n");
    let out = Command::new(common::hadrill_bin()).arg("check").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:1:", bad.display())), "{err}");
    assert!(err.contains("not_a_key"), "{err}");

    let syntax = write("syntax.toml", "stack = \"web-haproxy-pg\"\nname = \n");
    let out = Command::new(common::hadrill_bin()).arg("check").arg(&syntax).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{}:2:", syntax.display())));

    let unknown = write("unknown.toml", "stack = \"no-such-stack\"\nduration = \"10s\"\n");
    let out = Command::new(common::hadrill_bin()).arg("check").arg(&unknown).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":1:9:") && err.contains("no-such-stack"), "{err}");
}

#[test]
fn check_accepts_the_bundled_scenarios() {
    let dir = hadrill::paths::scenarios_dir();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(!files.is_empty(), "no bundled scenarios in {}", dir.display());
    let out = Command::new(common::hadrill_bin()).arg("check").args(&files).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn doctor_fails_with_exit_2_when_docker_is_unreachable() {
    let out = Command::new(common::hadrill_bin())
        .arg("doctor")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("FAIL docker")), "{text}");
}

#[test]
fn doctor_passes_on_this_machine() {
    let out = Command::new(common::hadrill_bin()).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.lines().any(|l| l.starts_with("ok   docker")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("ok   compose")), "{text}");
}

#[test]
fn up_with_unknown_stack_exits_2_without_touching_docker() {
    let out = Command::new(common::hadrill_bin())
        .args(["up", "no-such-stack"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown stack \"no-such-stack\""));
}

#[test]
fn render_refuses_what_is_not_a_report_of_this_schema() {
    let not_json = write("not.json", "{ nope");
    let out = Command::new(common::hadrill_bin()).arg("render").arg(&not_json).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not JSON"));
    let other = write("other.json", "{\"schema_version\": 99}");
    let out = Command::new(common::hadrill_bin()).arg("render").arg(&other).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema_version 99"));
    let partial = write("partial.json", "{\"schema_version\": 1, \"verdict\": \"passed\"}");
    let out = Command::new(common::hadrill_bin()).arg("render").arg(&partial).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a hadrill report"));
}

/// Runs hadrill with `args`: its exit code and stderr.
fn hadrill(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(common::hadrill_bin()).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn load_refuses_urls_that_are_not_what_they_seem_before_connecting() {
    for (url, says) in [
        ("http://127.0.0.1:80@10.0.0.1/", "user or password"),
        ("http://127.0.0.1:@10.0.0.1/", "user or password"),
        ("http://127.0.0.1:99999/", "port \"99999\""),
        ("http://10.0.0.1:80/", "not on this machine"),
        ("ftp://127.0.0.1/", "http:// or https://"),
        ("https://10.0.0.1:443/", "not on this machine"),
    ] {
        let started = std::time::Instant::now();
        let (code, err) = hadrill(&["load", url, "--duration", "1s", "--rate", "5"]);
        assert_eq!(code, Some(2), "{url}: {err}");
        assert!(err.contains(url) && err.contains(says), "{url}: {err}");
        assert!(!err.contains("requests"), "{url}: no load ran: {err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{url}: refused at once");
    }
}

#[test]
fn load_refuses_a_missing_ca_file_before_connecting() {
    let (code, err) =
        hadrill(&["load", "https://127.0.0.1:1/", "--ca", "/nonexistent/ca.pem", "--duration", "1s"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tls ca file \"/nonexistent/ca.pem\""), "{err}");
    let (code, err) = hadrill(&["load", "https://127.0.0.1:1/", "--ca", "x.pem", "--insecure"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--insecure") && err.contains("--ca"), "clap names the conflict: {err}");
}

#[test]
fn load_caps_its_flags_like_scenarios() {
    let url = "http://127.0.0.1:1/";
    for (args, says) in [
        (
            &["--rate", "150000", "--duration", "1h"][..],
            "above the 400000000 hadrill records in one run (24 bytes of disk each while it runs: 8.94 GiB)",
        ),
        (&["--rate", "10000000", "--duration", "1h"], "must be from 1 to 200000"),
        (&["--rate", "max", "--connections", "100000000"], "--connections \"100000000\": must be from 1 to"),
        (&["--connections", "18446744073709551615"], "must be from 1 to 10000"),
        (&["--connections", "0"], "must be from 1 to"),
        (&["--rate", "max", "--duration", "1h"], "--rate max counts"),
        (&["--duration", "0s"], "--duration \"0ms\": must be at least 1s"),
        (&["--timeout", "0s"], "--timeout"),
        (&["--rate", "lots"], "--rate \"lots\""),
    ] {
        let (code, err) = hadrill(&[&["load", url][..], args].concat());
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains('%'), "{args:?}: {err}");
    }
}

#[test]
fn load_where_nothing_listens_exits_2_saying_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, err) = hadrill(&["load", &url, "--duration", "1s", "--rate", "10"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("nothing answered at {url}")) && err.contains("refused"), "{err}");
}

#[test]
fn check_bounds_what_it_reads() {
    let started = std::time::Instant::now();
    let (code, err) = hadrill(&["check", "/dev/zero"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/dev/zero:1:1: cannot read: larger than 1.0 MiB"), "{err}");

    let dir = write("deep/compose.yaml", "").parent().unwrap().to_path_buf();
    let deep =
        format!("services:\n  a:\n    image: x\n    x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.join("compose.yaml"), deep).unwrap();
    let scenario = write("deep.toml", "stack = \"deep/compose.yaml\"\nduration = \"30s\"\n");
    let (code, err) = hadrill(&["check", scenario.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 4: nested more than 64 levels deep"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused fast: {:?}", started.elapsed());
}

#[test]
fn check_messages_are_never_empty_and_name_the_real_line() {
    let head = "stack = \"web-haproxy-pg\"\nduration = \"30s\"\n";
    for (name, text, place, says) in [
        (
            "del.toml",
            format!("{head}# bad\x7f comment\n").into_bytes(),
            ":3:6: ",
            "character '\\u{7f}' is not allowed",
        ),
        ("eof.toml", format!("{head}[load]\nrate =").into_bytes(), ":4:7: ", "the file ends"),
        ("bytes.toml", [head.as_bytes(), b"# ok\n\xff\xfe\n"].concat(), ":4:1: ", "not UTF-8"),
    ] {
        let f = std::env::temp_dir().join(format!("hadrill-cli-msg-{}-{name}", std::process::id()));
        std::fs::write(&f, text).unwrap();
        let (code, err) = hadrill(&["check", f.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains(&format!("{}{place}{says}", f.display())), "{name}: {err}");
    }
}

#[test]
fn repeat_and_cycle_are_checked_before_anything_starts() {
    let sc = "scenarios/pg-primary-failover.toml";
    let (code, err) = hadrill(&["run", sc, "--repeat", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("0 is not in 1..=100"), "{err}");
    let (code, err) = hadrill(&["run", sc, "--cycle", "2"]);
    assert_eq!(code, Some(2), "a cycle is replayed from its run's seed");
    assert!(err.contains("give that run's --seed"), "{err}");
    let (code, _) = hadrill(&["run", sc, "--cycle", "2", "--repeat", "3", "--seed", "1"]);
    assert_eq!(code, Some(2), "one cycle or several, not both");
}

/// A real report (app-instance-kill with `[measure] slow = "500ms"`), as `hadrill run` wrote it.
fn real_report() -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/app-instance-kill.report.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn compare(base: &std::path::Path, new: &std::path::Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out =
        Command::new(common::hadrill_bin()).arg("compare").arg(base).arg(new).args(extra).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn compare_exits_0_unchanged_1_on_a_regression_and_2_on_bad_input() {
    let base = write("compare/base.json", &real_report().to_string());
    let (code, md, _) = compare(&base, &base, &[]);
    assert_eq!(code, Some(0), "{md}");
    assert!(md.contains("| availability | 97.750% | 97.750% | +0.0% | ✅ |"), "{md}");
    assert!(md.contains("No gated figure got worse"), "{md}");

    let mut worse = real_report();
    worse["measurement"]["slo"]["degraded"]["total_ms"] = 3700.0.into();
    let worse = write("compare/worse.json", &worse.to_string());
    let (code, md, _) = compare(&base, &worse, &["--tolerance", "20%"]);
    assert_eq!(code, Some(1), "+25% degraded against 20%: {md}");
    assert!(md.contains("REGRESSED beyond the tolerance: degraded (total)."), "{md}");
    let out = write("compare/out/comparison.md", "");
    let (code, md, _) = compare(&base, &worse, &["--tolerance", "30%", "--output", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{md}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), md);

    let missing = base.with_file_name("missing.json");
    let not_json = write("compare/not.json", "{ nope");
    let mut future = real_report();
    future["schema_version"] = 99.into();
    let future = write("compare/future.json", &future.to_string());
    for (new, extra, says) in [
        (&missing, &[][..], "missing.json"),
        (&not_json, &[][..], "not JSON"),
        (&future, &[][..], "99"),
        (&base, &["--tolerance", "lots"][..], "--tolerance \"lots\""),
    ] {
        let (code, _, err) = compare(&base, new, extra);
        assert_eq!(code, Some(2), "{new:?} {extra:?}: {err}");
        assert!(err.contains(says), "{says}: {err}");
    }
}

#[test]
fn run_with_an_unreadable_baseline_exits_2_before_docker() {
    let scenario = hadrill::paths::scenarios_dir().join("app-instance-kill.toml");
    let out = Command::new(common::hadrill_bin())
        .args(["run", "--baseline", "/nonexistent/report.json"])
        .arg(&scenario)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/report.json"), "{err}");
    assert!(!err.contains("docker"), "refused before Docker: {err}");
}
