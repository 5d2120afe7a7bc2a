//! End-to-end: a reaper that cannot run says why. A binary that does not run in the reaper's image (here a
//! script that fails as a glibc-too-new binary would) makes `Reaper::start` fail with the reaper's own log, and
//! leaves no container behind; the drill then runs without a reaper.

use std::os::unix::fs::PermissionsExt;

use hadrill::cleanup::{self, Scope};
use hadrill::reaper::Reaper;

#[tokio::test(flavor = "multi_thread")]
async fn a_reaper_that_cannot_run_shows_its_log() {
    let dir = std::env::temp_dir().join(format!("hadrill-reaper-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("hadrill");
    std::fs::write(&fake, "#!/bin/sh\necho \"/hadrill: version 'GLIBC_2.99' not found\" >&2\nexit 1\n")
        .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The only test in this binary: nothing else reads the variable meanwhile.
    std::env::set_var("HADRILL_BIN", &fake);
    let docker = hadrill::docker::connect::connect().await.unwrap();
    let project = format!("hadrill-reapertest-{:06x}", std::process::id());
    let err = Reaper::default().start(&docker, &project).await.expect_err("the fake binary cannot reap");
    let text = err.to_string();
    assert!(text.contains(&format!("reaper of {project}")), "{text}");
    assert!(text.contains("GLIBC_2.99"), "the reaper's log is not in the error: {text}");
    let mut left = cleanup::count(&docker, &Scope::Project(project.clone())).await.unwrap();
    for _ in 0..20 {
        if left.total() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        left = cleanup::count(&docker, &Scope::Project(project.clone())).await.unwrap();
    }
    assert_eq!(left.total(), 0, "the failed reaper was left: {left}");
    let _ = std::fs::remove_dir_all(&dir);
}
