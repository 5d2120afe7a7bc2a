"""A small orders service: its own paths and JSON bodies, one PostgreSQL behind it.

POST /v1/orders        {"ref": "...", "qty": 1} with "Authorization: Bearer $ORDERS_TOKEN" -> 201 (409 if the ref exists)
GET  /v1/orders/{ref}  -> 200 {"ref": ..., "qty": ..., "instance": ...} or 404
GET  /status           -> 200 when the database answered within the last STATUS_STALE seconds, else 503

Shaped as a service meant to sit behind a load balancer: one thread per client connection, but a fixed pool of
database connections shared by all of them (POOL_SIZE, a request waits at most POOL_WAIT seconds for one and
is answered 503 "busy" after that), so a burst of connections cannot exhaust the server's connection slots.
/status costs nothing: a watcher thread pings the database every half second on a connection of its own and
the handler reads its last result, so a saturated pool never fails the health check of an instance that works.

Environment: DATABASE_URL (a libpq connection string), ORDERS_TOKEN, INSTANCE, PORT (default 8080),
POOL_SIZE (default 10), POOL_WAIT (seconds, default 1).
"""
import contextlib
import hmac
import json
import os
import queue
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import psycopg2.errors

DSN = os.environ["DATABASE_URL"]
TOKEN = os.environ.get("ORDERS_TOKEN", "")
INSTANCE = os.environ.get("INSTANCE", "orders")
POOL_SIZE = int(os.environ.get("POOL_SIZE", "10"))
POOL_WAIT = float(os.environ.get("POOL_WAIT", "1"))
STATUS_STALE = 2.0
REF = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Busy(Exception):
    """No pooled connection came free within POOL_WAIT."""


def connect():
    c = psycopg2.connect(DSN)
    c.autocommit = True
    return c


class Pool:
    """At most `size` connections, opened on demand, kept while they work, dropped after a connection error."""

    def __init__(self, size, wait):
        self.slots = threading.BoundedSemaphore(size)
        self.idle = queue.LifoQueue()
        self.wait = wait

    @contextlib.contextmanager
    def connection(self):
        if not self.slots.acquire(timeout=self.wait):
            raise Busy()
        try:
            try:
                c = self.idle.get_nowait()
            except queue.Empty:
                c = connect()
            broken = False
            try:
                yield c
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                broken = True
                raise
            finally:
                if broken or c.closed:
                    c.close()
                else:
                    self.idle.put(c)
        finally:
            self.slots.release()


pool = Pool(POOL_SIZE, POOL_WAIT)


def query(sql, args=()):
    with pool.connection() as c, c.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone() if cur.description else None


class Health:
    """The database's last answer to the watcher's ping, read by /status without touching the database."""

    def __init__(self):
        self.last_ok = 0.0

    def ok(self):
        return time.monotonic() - self.last_ok < STATUS_STALE

    def watch(self):
        c = None
        while True:
            try:
                if c is None or c.closed:
                    c = connect()
                with c.cursor() as cur:
                    cur.execute("SELECT 1")
                self.last_ok = time.monotonic()
            except psycopg2.Error as e:
                print(f"{INSTANCE}: database ping failed: {str(e).strip()}", flush=True)
                if c is not None:
                    c.close()
                c = None
            time.sleep(0.5)


health = Health()


def migrate():
    while True:
        try:
            c = connect()
            with c.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(7001)")
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS orders (ref text PRIMARY KEY, qty integer NOT NULL,"
                    " instance text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
                )
                cur.execute("SELECT pg_advisory_unlock(7001)")
            c.close()
            return
        except psycopg2.Error as e:
            print(f"{INSTANCE}: waiting for the database: {str(e).strip()}", flush=True)
            time.sleep(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, and each answer written at once: a head and a body written apart would wait for the
    # peer's delayed ACK (Nagle), 40 ms an answer on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} {self.responses[status][0]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        try:
            self.wfile.write(head.encode() + data)
        except OSError:
            self.close_connection = True

    def do_GET(self):
        if self.path == "/status":
            if health.ok():
                return self.reply(200, {"status": "ok", "instance": INSTANCE})
            return self.reply(503, {"status": "database unavailable", "instance": INSTANCE})
        m = re.fullmatch(r"/v1/orders/([^/?]+)", self.path)
        if not m:
            return self.reply(404, {"error": "no such path"})
        try:
            row = query("SELECT ref, qty FROM orders WHERE ref = %s", (m.group(1),))
        except Busy:
            return self.reply(503, {"error": "busy"})
        except psycopg2.Error as e:
            return self.reply(503, {"error": "database unavailable", "detail": str(e).strip()[:200]})
        if row is None:
            return self.reply(404, {"error": "no such order", "ref": m.group(1)})
        return self.reply(200, {"ref": row[0], "qty": row[1], "instance": INSTANCE})

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
        except Busy:
            return self.reply(503, {"error": "busy"})
        except psycopg2.Error as e:
            return self.reply(503, {"error": "database unavailable", "detail": str(e).strip()[:200]})
        return self.reply(201, {"ref": ref, "qty": qty, "instance": INSTANCE})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        """A client (HAProxy closing an idle connection) that goes away is not an error worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


if __name__ == "__main__":
    migrate()
    threading.Thread(target=health.watch, daemon=True).start()
    server = Server(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    print(f"{INSTANCE}: listening on :8080, {POOL_SIZE} database connections at most", flush=True)
    server.serve_forever()
