#!/bin/bash
# Starts Redis as a master, a replica or a Sentinel (REDIS_ROLE), the way the PromptForge and VaultStadio guides
# run them. Both redis-server (after a failover: CONFIG REWRITE of `replicaof`) and redis-sentinel (its whole
# view of the group) rewrite their configuration file, so the file lives on the writable data volume: it is
# rendered from the environment on the first start only and kept across restarts, as a real install's would be.
#
# Environment:
#   REDIS_ROLE          master | replica | sentinel
#   REDIS_ANNOUNCE      the name other nodes and clients reach this node by (the Compose service name);
#                       a server announces it with replica-announce-ip, a Sentinel with announce-ip
#   REDIS_MASTER_HOST   replica: whom to replicate; sentinel: the master to monitor at first start
#   REDIS_MASTER_PORT   default 6379
#   SENTINEL_MASTER_NAME (mymaster), SENTINEL_QUORUM (2), SENTINEL_DOWN_AFTER_MS (5000),
#   SENTINEL_FAILOVER_TIMEOUT_MS (10000), SENTINEL_PARALLEL_SYNCS (1)
set -euo pipefail
role=${REDIS_ROLE:-master}
announce=${REDIS_ANNOUNCE:-$(hostname)}
master_port=${REDIS_MASTER_PORT:-6379}
dir=/var/lib/redis

server_conf() {
  cat <<CONF
# Rendered by redis-entrypoint.sh on first start; Redis and Sentinel may rewrite it since.
bind 0.0.0.0
protected-mode no
port 6379
dir ${dir}
appendonly yes
appendfsync everysec
# Announce the service name rather than the container IP, so that INFO replication, and therefore what
# Sentinel reports, names this node by its Compose service name.
replica-announce-ip ${announce}
replica-serve-stale-data yes
replica-read-only yes
CONF
}

case "$role" in
  master|replica)
    conf=$dir/redis.conf
    if [ ! -s "$conf" ]; then
      server_conf > "$conf"
      if [ "$role" = replica ]; then
        : "${REDIS_MASTER_HOST:?REDIS_MASTER_HOST is required for a replica}"
        echo "replicaof ${REDIS_MASTER_HOST} ${master_port}" >> "$conf"
      fi
    fi
    exec redis-server "$conf"
    ;;
  sentinel)
    : "${REDIS_MASTER_HOST:?REDIS_MASTER_HOST is required for a sentinel}"
    conf=$dir/sentinel.conf
    name=${SENTINEL_MASTER_NAME:-mymaster}
    if [ ! -s "$conf" ]; then
      cat > "$conf" <<CONF
# Rendered by redis-entrypoint.sh on first start; Sentinel rewrites it (epochs, known replicas and sentinels).
bind 0.0.0.0
protected-mode no
port 26379
dir ${dir}
# Sentinel works with names rather than container IPs: it resolves the hostnames it is given and reports
# hostnames (the announced service names) in get-master-addr-by-name, INFO and its hello messages.
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip ${announce}
sentinel monitor ${name} ${REDIS_MASTER_HOST} ${master_port} ${SENTINEL_QUORUM:-2}
sentinel down-after-milliseconds ${name} ${SENTINEL_DOWN_AFTER_MS:-5000}
sentinel failover-timeout ${name} ${SENTINEL_FAILOVER_TIMEOUT_MS:-10000}
sentinel parallel-syncs ${name} ${SENTINEL_PARALLEL_SYNCS:-1}
CONF
    fi
    exec redis-sentinel "$conf"
    ;;
  *)
    echo "redis-entrypoint.sh: REDIS_ROLE must be master, replica or sentinel (got '$role')" >&2
    exit 64
    ;;
esac
