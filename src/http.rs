//! The general-purpose HTTP client (reqwest) that the observers share: short timeouts, no proxy, a small idle
//! pool. The load and its read-backs go through the engine's own client, [`crate::load::http1`], so that they
//! reach an `https://` target with the load's TLS and `Host` settings.

use std::time::Duration;

/// A client whose requests end after `timeout` (connecting within at most one second), keeping up to `pool`
/// idle connections per host. Redirects are not followed: a redirect could lead off this machine.
pub fn client(timeout: Duration, pool: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(1)))
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}
