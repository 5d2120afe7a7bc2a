#!/bin/bash
# Patroni runs this once, on the node that initialises the cluster, with a superuser connection string as $1:
# the application's role and database (Patroni 3 has no bootstrap.users any more).
set -euo pipefail
psql "$1" -v ON_ERROR_STOP=1 -q \
  -c "CREATE ROLE ${PG_APP_USER:-app} WITH LOGIN PASSWORD '${PG_APP_PASSWORD:-app}'" \
  -c "CREATE DATABASE ${PG_APP_DB:-app} OWNER ${PG_APP_USER:-app}"
