#!/bin/bash
# Healthy when the node answers PING and, for a replica, its link to the master is up; a Sentinel is healthy
# when it answers and knows the master's address.
set -e
if [ "${REDIS_ROLE:-master}" = sentinel ]; then
  [ "$(redis-cli -p 26379 ping)" = PONG ]
  [ -n "$(redis-cli -p 26379 sentinel get-master-addr-by-name "${SENTINEL_MASTER_NAME:-mymaster}")" ]
  exit 0
fi
info=$(redis-cli -p 6379 info replication | tr -d '\r')
grep -q '^role:' <<<"$info"
if grep -q '^role:slave' <<<"$info"; then
  grep -q '^master_link_status:up' <<<"$info"
fi
