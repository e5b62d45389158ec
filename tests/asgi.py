"""Calling the project's ASGI apps directly, as a server would."""


def http_scope(method: str, path: str, headers=()) -> dict:
    """The scope of one HTTP request to testserver; `headers` are (bytes, bytes) pairs after Host."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
