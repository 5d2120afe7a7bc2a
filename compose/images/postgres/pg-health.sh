#!/bin/bash
# Healthy when PostgreSQL accepts connections and, if it is a standby, is streaming from its primary.
set -e
pg_isready -q -h 127.0.0.1 -U postgres
in_recovery=$(psql -h /var/run/postgresql -U postgres -tAc 'SELECT pg_is_in_recovery()')
if [ "$in_recovery" = t ]; then
  [ "$(psql -h /var/run/postgresql -U postgres -tAc 'SELECT status FROM pg_stat_wal_receiver')" = streaming ]
fi
