//! End-to-end: the web-haproxy-pg stack on real Docker. HAProxy in front of three demo instances, PostgreSQL
//! streaming replication underneath, everything reached through 127.0.0.1 ports found via the Docker API.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use hadrill::cleanup::{self, Scope};
use hadrill::stack::lifecycle::{endpoints_of, find_endpoint};

#[tokio::test(flavor = "multi_thread")]
async fn web_haproxy_pg_comes_up_serves_replicates_and_goes_away() {
    let (docker, running, containers, _guard) = common::up("web-haproxy-pg").await;
    let services: BTreeSet<&str> = containers.iter().map(|c| c.service.as_str()).collect();
    assert_eq!(services, ["app1", "app2", "app3", "lb", "pg-primary", "pg-replica"].into_iter().collect());
    let eps = endpoints_of(&containers);
    for e in &eps {
        assert!(e.addr.ip().is_loopback(), "{} published on {}", e.service, e.addr);
    }
    let lb = find_endpoint(&eps, "lb:8080").expect("lb published");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let base = format!("http://{lb}");

    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let put = http.put(format!("{base}/kv/e2e-key")).body("e2e-value").send().await.unwrap();
    assert!(put.status().is_success(), "PUT answered {}", put.status());
    let got = http.get(format!("{base}/kv/e2e-key")).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), "e2e-value");
    let missing = http.get(format!("{base}/kv/absent")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let mut seen = BTreeSet::new();
    for _ in 0..30 {
        let who = http.get(format!("{base}/whoami")).send().await.unwrap().text().await.unwrap();
        seen.insert(who);
    }
    assert_eq!(seen, ["app1", "app2", "app3"].iter().map(|s| s.to_string()).collect());

    let replica = find_endpoint(&eps, "pg-replica:5432").expect("replica published");
    let conn =
        format!("host=127.0.0.1 port={} user=app password=app dbname=app connect_timeout=5", replica.port());
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let in_recovery: bool = client.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
    assert!(in_recovery, "the replica must be a standby");
    let mut replayed = None;
    for _ in 0..50 {
        if let Ok(Some(row)) = client.query_opt("SELECT v FROM kv WHERE k = 'e2e-key'", &[]).await {
            replayed = Some(row.get::<_, String>(0));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(replayed.as_deref(), Some("e2e-value"), "the replica replayed the write");
    drop(client);

    running.down(&docker).await.expect("down");
    let left = cleanup::count(&docker, &Scope::Project(running.project.clone())).await.unwrap();
    assert_eq!(left.total(), 0, "left behind: {left}");
}
