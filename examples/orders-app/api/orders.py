"""A small orders service: its own paths and JSON bodies, one PostgreSQL behind it.

POST /v1/orders        {"ref": "...", "qty": 1} with "Authorization: Bearer $ORDERS_TOKEN" -> 201 (409 if the ref exists)
GET  /v1/orders/{ref}  -> 200 {"ref": ..., "qty": ..., "instance": ...} or 404
GET  /status           -> 200 when the database answers, else 503

Environment: DATABASE_URL (a libpq connection string), ORDERS_TOKEN, INSTANCE, PORT (default 8080).
"""
import hmac
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import psycopg2.errors

DSN = os.environ["DATABASE_URL"]
TOKEN = os.environ.get("ORDERS_TOKEN", "")
INSTANCE = os.environ.get("INSTANCE", "orders")
REF = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
local = threading.local()


def conn():
    c = getattr(local, "conn", None)
    if c is None or c.closed:
        c = psycopg2.connect(DSN)
        c.autocommit = True
        local.conn = c
    return c


def query(sql, args=()):
    """Runs one statement; a broken connection is dropped so that the next request reconnects."""
    try:
        with conn().cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone() if cur.description else None
    except psycopg2.OperationalError:
        c = getattr(local, "conn", None)
        if c is not None:
            c.close()
        local.conn = None
        raise


def migrate():
    while True:
        try:
            query("SELECT pg_advisory_lock(7001)")
            query(
                "CREATE TABLE IF NOT EXISTS orders (ref text PRIMARY KEY, qty integer NOT NULL,"
                " instance text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
            )
            query("SELECT pg_advisory_unlock(7001)")
            return
        except psycopg2.Error as e:
            print(f"{INSTANCE}: waiting for the database: {e}".strip(), flush=True)
            local.conn = None
            time.sleep(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        try:
            if self.path == "/status":
                query("SELECT 1")
                return self.reply(200, {"status": "ok", "instance": INSTANCE})
            m = re.fullmatch(r"/v1/orders/([^/?]+)", self.path)
            if not m:
                return self.reply(404, {"error": "no such path"})
            row = query("SELECT ref, qty FROM orders WHERE ref = %s", (m.group(1),))
            if row is None:
                return self.reply(404, {"error": "no such order", "ref": m.group(1)})
            return self.reply(200, {"ref": row[0], "qty": row[1], "instance": INSTANCE})
        except psycopg2.Error as e:
            return self.reply(503, {"error": "database unavailable", "detail": str(e).strip()[:200]})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self.path != "/v1/orders":
            return self.reply(404, {"error": "no such path"})
        given = self.headers.get("Authorization", "")
        if not TOKEN or not hmac.compare_digest(given.encode(), f"Bearer {TOKEN}".encode()):
            return self.reply(401, {"error": "a valid bearer token is required"})
        try:
            order = json.loads(raw)
            ref, qty = order["ref"], order["qty"]
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": 'the body must be {"ref": "...", "qty": N}'})
        if not isinstance(ref, str) or not REF.match(ref) or not isinstance(qty, int) or qty < 1:
            return self.reply(400, {"error": "ref must be 1-128 of [A-Za-z0-9._:-], qty a positive integer"})
        try:
            query("INSERT INTO orders (ref, qty, instance) VALUES (%s, %s, %s)", (ref, qty, INSTANCE))
        except psycopg2.errors.UniqueViolation:
            return self.reply(409, {"error": "the order exists", "ref": ref})
        except psycopg2.Error as e:
            return self.reply(503, {"error": "database unavailable", "detail": str(e).strip()[:200]})
        return self.reply(201, {"ref": ref, "qty": qty, "instance": INSTANCE})


if __name__ == "__main__":
    migrate()
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    print(f"{INSTANCE}: listening on :8080", flush=True)
    server.serve_forever()
