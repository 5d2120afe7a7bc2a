//! The general-purpose HTTP client (reqwest) that the read-back and the observers share: short timeouts, no
//! proxy, a small idle pool. The load itself goes through the engine's own client, [`crate::load::http1`].

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
