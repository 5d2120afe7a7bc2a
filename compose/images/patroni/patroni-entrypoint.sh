#!/bin/bash
# Renders Patroni's configuration from the environment and starts Patroni (which starts PostgreSQL: the first
# node to take the leader key in etcd runs initdb, the others clone it with pg_basebackup).
#
# Environment (the names avoid PATRONI_*: Patroni reads those itself and would override the file):
#   NODE_NAME        this member's name and the host others reach it by (the Compose service name)
#   CLUSTER_SCOPE    the cluster's name in the DCS (default hadrill)
#   ETCD_HOSTS       host:port,... of the etcd members (default etcd1:2379,etcd2:2379,etcd3:2379)
#   TTL, LOOP_WAIT, RETRY_TIMEOUT, MAXIMUM_LAG_ON_FAILOVER   bootstrap DCS settings (10, 2, 4, 1048576)
#   SYNCHRONOUS_MODE  true: Patroni keeps one replica synchronous and promotes only that one (default false)
#   PG_APP_USER, PG_APP_PASSWORD, PG_APP_DB (app), PG_SUPERUSER_PASSWORD (postgres),
#   PG_REPLICATION_PASSWORD (replicator)
set -euo pipefail
node=${NODE_NAME:-$(hostname)}
conf=/etc/patroni/patroni.yml
etcd_hosts=${ETCD_HOSTS:-etcd1:2379,etcd2:2379,etcd3:2379}

cat > "$conf" <<CONF
scope: ${CLUSTER_SCOPE:-hadrill}
namespace: /service/
name: ${node}

log:
  level: INFO

restapi:
  listen: 0.0.0.0:8008
  connect_address: ${node}:8008

etcd3:
  hosts: ${etcd_hosts}
  protocol: http

bootstrap:
  # Written to etcd by the first member only; change it later with patronictl edit-config.
  dcs:
    ttl: ${TTL:-10}
    loop_wait: ${LOOP_WAIT:-2}
    retry_timeout: ${RETRY_TIMEOUT:-4}
    maximum_lag_on_failover: ${MAXIMUM_LAG_ON_FAILOVER:-1048576}
    synchronous_mode: ${SYNCHRONOUS_MODE:-false}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        synchronous_commit: "on"
  # The data directory lives only for the drill (a volume that "down -v" removes): initdb skips the fsyncs
  # that make it survive a host crash (Patroni refuses the old spelling "nosync", not initdb's "no-sync").
  # The servers the drill runs against keep fsync on. (No backquotes in this here-document: the shell runs them.)
  initdb:
    - encoding: UTF8
    - data-checksums
    - no-sync
  post_bootstrap: /usr/local/bin/patroni-post-bootstrap.sh

postgresql:
  listen: 0.0.0.0:5432
  connect_address: ${node}:5432
  data_dir: ${PGDATA}
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: /tmp/pgpass
  # New replicas clone the leader with pg_basebackup: ask for an immediate checkpoint, not a spread one
  # (minutes with the default checkpoint_timeout), and no fsync of the copy (a drill's throwaway volume).
  basebackup:
    - checkpoint: fast
    - no-sync
  use_unix_socket: true
  authentication:
    superuser:
      username: postgres
      password: ${PG_SUPERUSER_PASSWORD:-postgres}
    replication:
      username: replicator
      password: ${PG_REPLICATION_PASSWORD:-replicator}
  parameters:
    unix_socket_directories: /var/run/postgresql
    log_line_prefix: '%m [%p] '
  pg_hba:
    - local all all trust
    - host replication replicator 0.0.0.0/0 scram-sha-256
    - host all all 0.0.0.0/0 scram-sha-256

watchdog:
  mode: "off"

tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
CONF

exec patroni "$conf"
