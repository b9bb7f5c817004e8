"""The ceiling of the sign-up rush on this machine: a WSGI app that does nothing but read the form and answer the
redirect a sign-up answers. bench_rush_vs_pretix.py runs it under the same gunicorn and the same clients, so what
is left between it and Canyu is Canyu's own work (and PostgreSQL's)."""


def app(environ, start_response):
    if environ["PATH_INFO"] == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("302 Found", [("Location", "/openday/tickets/1"), ("Content-Length", "0")])
    return [b""]
