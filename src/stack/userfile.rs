//! A user's compose file as it is: the Compose arguments that honour what it says. Services with `build:` are
//! built by Compose before `up` (tagged `hadrill-user/<stack>-<service>:local` by hadrill's override when the
//! file names no image, so that a second run reuses the build); `.env` next to the file or `--env-file`;
//! the enabled `profiles`; `scale:` / `deploy.replicas` as `up --scale` (Compose v1 ignores `deploy` outside
//! swarm). The flags are those of both `docker compose` v2 and `docker-compose` v1 (1.28 and later).

use std::time::Duration;

use super::resolve::StackSpec;

/// How long `compose build` may take (a first build of a user's image downloads and compiles).
pub const BUILD_LIMIT: Duration = Duration::from_secs(900);

/// Options before the subcommand: the env file and the profiles.
pub fn global_args(spec: &StackSpec) -> Vec<String> {
    let mut out = Vec::new();
    let env_file = spec.env_file.clone().or_else(|| Some(spec.dir().join(".env")).filter(|p| p.is_file()));
    if let Some(f) = env_file {
        out.push("--env-file".to_string());
        out.push(f.to_string_lossy().to_string());
    }
    for p in &spec.active_profiles {
        out.push("--profile".to_string());
        out.push(p.clone());
    }
    out
}

/// `build SERVICE...` for the services of the run that have a `build:` section, if any.
pub fn build_args(spec: &StackSpec) -> Option<Vec<String>> {
    let services: Vec<String> = spec.builds.iter().filter(|s| spec.has_service(s)).cloned().collect();
    if services.is_empty() {
        return None;
    }
    Some(std::iter::once("build".to_string()).chain(services).collect())
}

/// `up -d --no-build [--scale SERVICE=N...] SERVICE...`: the services of the run (enabled profiles only).
pub fn up_args(spec: &StackSpec) -> Vec<String> {
    let mut out: Vec<String> = ["up", "-d", "--no-build"].map(String::from).to_vec();
    for (svc, n) in spec.replicas.iter().filter(|(s, _)| spec.has_service(s)) {
        out.push("--scale".to_string());
        out.push(format!("{svc}={n}"));
    }
    out
}

/// The image tag hadrill gives a service built from the user's file when the file names none.
pub fn built_image(stack: &str, service: &str) -> String {
    format!("hadrill-user/{stack}-{}:local", super::resolve::sanitize(service))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const FILE: &str = r#"
services:
  lb: { image: hadrill/haproxy:local }
  api:
    build: ./api
    deploy: { replicas: 3 }
  worker: { build: ., scale: 2 }
  debug: { image: busybox, profiles: ["debug"] }
"#;

    fn spec(test: &str) -> StackSpec {
        let dir = std::env::temp_dir().join(format!("hadrill-userfile-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("compose.yml");
        std::fs::write(&f, FILE).unwrap();
        super::super::resolve::load(&f).unwrap()
    }

    #[test]
    fn builds_scales_and_leaves_disabled_profiles_out() {
        let mut s = spec("profiles");
        assert_eq!(s.services, vec!["lb", "api", "worker"], "debug is in a profile not enabled");
        assert_eq!(build_args(&s).unwrap(), vec!["build", "api", "worker"]);
        assert_eq!(up_args(&s), vec!["up", "-d", "--no-build", "--scale", "api=3", "--scale", "worker=2"]);
        assert!(global_args(&s).is_empty(), "no .env, no profile: {:?}", global_args(&s));
        s.with_profiles(&["debug".into()]);
        assert_eq!(s.services, vec!["lb", "api", "worker", "debug"]);
        assert_eq!(global_args(&s), vec!["--profile", "debug"]);
    }

    #[test]
    fn an_env_file_next_to_the_compose_file_is_passed_and_a_flag_wins() {
        let mut s = spec("env");
        let env = s.dir().join(".env");
        std::fs::write(&env, "X=1\n").unwrap();
        assert_eq!(global_args(&s), vec!["--env-file".to_string(), env.to_string_lossy().to_string()]);
        s.env_file = Some(Path::new("/etc/other.env").to_path_buf());
        assert_eq!(global_args(&s), vec!["--env-file", "/etc/other.env"]);
        std::fs::remove_file(env).unwrap();
    }

    #[test]
    fn built_images_get_a_stable_tag() {
        assert_eq!(built_image("my-app", "API_1"), "hadrill-user/my-app-api-1:local");
    }
}
