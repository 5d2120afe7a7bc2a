//! The command line as users run it: exit codes and messages of `check` and `doctor`.

mod common;

use std::process::Command;

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hadrill-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
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
