"""How a service process serves its app."""

import uvicorn
from fastapi import FastAPI


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run under uvicorn with our logging (no second access log: common/request_log.py writes
    it)."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        # Longer than the gateway keeps an idle upstream connection (nginx's upstream
        # keepalive_timeout, 60 s): nginx, not uvicorn, closes it, so nginx never sends a
        # request on a connection that uvicorn is closing at that moment (a 502 for a POST).
        timeout_keep_alive=75,
    )
