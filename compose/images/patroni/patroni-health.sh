#!/bin/bash
# Patroni's REST API answers GET /health with 200 while PostgreSQL is up and running, whatever its role.
exec 3<>/dev/tcp/127.0.0.1/8008
printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
grep -q '^HTTP/1.[01] 200' <&3
