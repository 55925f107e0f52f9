"""`dictate serve`: load the engine and serve it over HTTP until interrupted.

Loopback by default. Anything wider needs a bearer token: --api-key, else DICTATE_API_KEY, else a
new one is generated and printed once (it is not stored anywhere). The model loads in the
background so /health can say "loading" (503) until it is ready. A dictation in the tray app
on the same machine goes first: this process pauses its work while the app transcribes one
(dictate.control.claim).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import socket
import sys
import threading

from dictate.errors import DictateError

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key_for(host: str, given: str | None, env: str | None) -> tuple[str | None, bool]:
    """(the key clients must send, whether it was generated now). Loopback may go without one;
    any wider address gets a fresh random token when none was set."""
    key = (given or env or "").strip() or None
    if key is None and not is_loopback(host):
        return secrets.token_urlsafe(32), True
    return key, False


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    s = sub.add_parser(
        "serve",
        help="serve this machine's model over the OpenAI transcription API",
        description="Serve this machine's model at /v1/audio/transcriptions (the OpenAI API), "
        "with /v1/models and /health. Listens on 127.0.0.1 unless --host opens it; then a bearer "
        "token is required. Needs `pip install 'dictate[server]'`.",
    )
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    s.add_argument(
        "--api-key",
        metavar="KEY",
        help="bearer token clients must send (default: $DICTATE_API_KEY; generated and printed "
        "once when --host is not loopback and none is set)",
    )
    s.add_argument("--max-mb", type=float, default=25.0, help="largest upload (MiB, default 25)")
    s.add_argument(
        "--max-minutes", type=float, default=120.0, help="longest audio per request (default 120)"
    )
    s.add_argument(
        "--queue", type=int, default=8, help="requests that may wait; more get 503 (default 8)"
    )
    return s


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from dictate.server.app import ServerConfig, create_app
    except ImportError as exc:
        print(
            f"dictate serve: {exc.name or exc} is missing; install the server extra: "
            "pip install 'dictate[server]'",
            file=sys.stderr,
        )
        return 1
    from dictate.control.claim import DictationClaim
    from dictate.engine import priority
    from dictate.engine.transcriber import Engine

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s dictate serve: %(message)s", stream=sys.stderr
    )
    key, generated = api_key_for(args.host, args.api_key, os.environ.get("DICTATE_API_KEY"))
    if generated:
        print(
            f"dictate serve: listening beyond this machine, so clients need this API key "
            f"(shown once, not stored): {key}",
            file=sys.stderr,
            flush=True,
        )
    if args.queue < 0 or args.max_mb <= 0 or args.max_minutes <= 0:
        print(
            "dictate serve: --queue, --max-mb and --max-minutes must be positive", file=sys.stderr
        )
        return 2
    config = ServerConfig(
        api_key=key,
        max_bytes=int(args.max_mb * 1024 * 1024),
        max_audio_s=args.max_minutes * 60,
        queue=args.queue,
    )
    # A dictation in the tray app on this machine goes first: this process's engine work waits
    # while the app transcribes one (before each step, and between decoding steps).
    priority.yield_to(DictationClaim())
    engine = Engine(args.model, device=args.device, dtype=args.dtype, assistant=args.assistant)
    ready: list[Engine] = []
    failed: list[str] = []

    def load() -> None:
        try:
            info = engine.load()
            engine.warmup()
        except DictateError as exc:
            failed.append(str(exc))
            logging.getLogger("dictate.server").error("cannot load the model: %s", exc)
            server.should_exit = True  # uvicorn stops (at once, or right after starting)
            return
        ready.append(engine)
        logging.getLogger("dictate.server").info("ready: %s on %s", info.model, info.device)

    app = create_app(lambda: ready[0] if ready else None, config)
    server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_level="warning"))
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        print(f"dictate serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"dictate serve: listening on http://{shown}:{port}", file=sys.stderr, flush=True)
    threading.Thread(target=load, name="dictate-serve-load", daemon=True).start()
    server.run(sockets=[sock])
    return 1 if failed else 0


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, made here so that port 0 (any free port) can be reported."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
