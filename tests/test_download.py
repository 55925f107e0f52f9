"""A real download over HTTP: `resolve` fetches a hub id from a fake Hub on 127.0.0.1 into the
standard HF cache, reports byte progress, and afterwards finds the model offline."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from huggingface_hub import constants

from dictate.engine import loading
from dictate.errors import ModelNotAvailableError

REPO_ID = "acme/whisper-test"
COMMIT = "c0ffee0123456789abcdef0123456789abcdef01"
# Weights a Whisper repository also carries: listed, but never to be fetched.
UNWANTED = {
    "pytorch_model.bin": b"PK\x03\x04 pickled weights, never to be unpickled",
    "model.ckpt": b"a TensorFlow checkpoint",
    "README.md": b"# whisper-test\n",
    ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
}
LFS = (".safetensors", ".bin", ".ckpt")  # stored in LFS on the real Hub: ETag is the sha256


@dataclass
class FakeHub:
    """The part of the Hub API that snapshot_download/hf_hub_download use, for one model repo."""

    files: dict[str, bytes]
    repo_exists: bool = True
    error_code: bool = True  # the Hub's X-Error-Code header on a missing repo
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path), in order

    def etag(self, name: str) -> str:
        data = self.files[name]
        if name.endswith(LFS):
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git blob id

    def tree(self) -> list[dict]:
        entries = []
        for name, data in sorted(self.files.items()):
            entry = {"type": "file", "path": name, "size": len(data), "oid": self.etag(name)}
            if name.endswith(LFS):  # and no "xetHash": the repo is not on Xet storage
                lfs = {"oid": self.etag(name), "size": len(data), "pointerSize": 134}
                entry.update(oid=hashlib.sha1(name.encode()).hexdigest(), lfs=lfs)
            entries.append(entry)
        return entries

    def info(self) -> dict:
        siblings = [{"rfilename": name} for name in sorted(self.files)]
        return {"id": REPO_ID, "sha": COMMIT, "private": False, "siblings": siblings}


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    api = f"/api/models/{REPO_ID}"
    resolve = f"/{REPO_ID}/resolve/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: every request is in hub.requests
            pass

        def do_HEAD(self):
            self._serve(body=False)

        def do_GET(self):
            self._serve(body=True)

        def _serve(self, body: bool):
            path = unquote(urlsplit(self.path).path)
            hub.requests.append((self.command, path))
            if not hub.repo_exists:
                code = "RepoNotFound" if hub.error_code else None
                return self._json({"error": "Repository not found"}, 404, code)
            if path in (api, f"{api}/revision/main", f"{api}/revision/{COMMIT}"):
                return self._json(hub.info())
            if path in (f"{api}/tree/{COMMIT}", f"{api}/tree/main"):
                return self._json(hub.tree())
            for rev in ("main", COMMIT):
                prefix = f"{resolve}{rev}/"
                if path.startswith(prefix) and path[len(prefix) :] in hub.files:
                    return self._file(path[len(prefix) :], body)
            self._json({"error": f"Entry not found: {path}"}, 404)

        def _json(self, payload, status=200, error_code=None):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error_code:
                self.send_header("X-Error-Code", error_code)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _file(self, name: str, body: bool):
            data = hub.files[name]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hub.etag(name)}"')
            if name.endswith(LFS):
                self.send_header("X-Linked-Etag", f'"{hub.etag(name)}"')
                self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


@pytest.fixture
def serve(tmp_path, monkeypatch) -> Iterator:
    """Start a FakeHub on an ephemeral port and point huggingface_hub (online) at it."""
    servers: list[ThreadingHTTPServer] = []
    cache = tmp_path / "hf" / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # No user agent detection (it fetches a registry into HF_HOME) and no user token sent.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)

    def start(hub: FakeHub) -> FakeHub:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("HF_ENDPOINT", url)
        monkeypatch.setattr(constants, "ENDPOINT", url)  # read at import time: patch both
        template = url + "/{repo_id}/resolve/{revision}/{filename}"
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
        return hub

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def read_folder(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_download_reports_progress_then_resolves_offline(serve, random_model_dir, monkeypatch):
    model = read_folder(random_model_dir)
    assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= set(model)
    hub = serve(FakeHub(files={**model, **UNWANTED}))
    events: list[loading.Progress] = []

    source = loading.resolve(REPO_ID, progress=events.append)

    # In the standard cache layout, at the commit the Hub named, byte for byte.
    repo = Path(constants.HF_HUB_CACHE) / "models--acme--whisper-test"
    assert source.origin == "download" and source.repo_id == REPO_ID
    assert source.path == repo / "snapshots" / COMMIT
    assert (repo / "refs" / "main").read_text() == COMMIT
    assert read_folder(source.path) == model
    sha256 = hashlib.sha256(model["model.safetensors"]).hexdigest()  # the blob is named by ETag
    assert (source.path / "model.safetensors").resolve() == (repo / "blobs" / sha256).resolve()

    # Over the wire: the commit, the file list, then a HEAD and a plain GET per allowed file;
    # nothing else, and none of the pickled or TF weights.
    api = f"/api/models/{REPO_ID}"
    files = [f"/{REPO_ID}/resolve/{COMMIT}/{name}" for name in sorted(model)]
    assert hub.requests[:2] == [("GET", f"{api}/revision/main"), ("GET", f"{api}/tree/{COMMIT}")]
    assert sorted(hub.requests[2:]) == sorted(
        [("HEAD", f) for f in files] + [("GET", f) for f in files]
    )

    # Progress: one event per chunk written, `done` growing to the sum of the files' sizes.
    total = sum(len(data) for data in model.values())
    chunks = sum(-(-len(data) // constants.DOWNLOAD_CHUNK_SIZE) for data in model.values())
    assert all(e.stage == "download" for e in events)
    assert len(events) == chunks
    done = [e.done for e in events]
    assert done == sorted(set(done))  # strictly increasing: no bar counted twice, none out of order
    assert all(e.total is not None and e.done <= e.total <= total for e in events)
    assert (events[-1].done, events[-1].total, events[-1].fraction) == (total, total, 1.0)

    # Offline afterwards: from the cache, without a single request.
    hub.requests.clear()
    events.clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    again = loading.resolve(REPO_ID, progress=events.append)
    assert (again.origin, again.path) == ("hub-cache", source.path)
    assert loading.is_cached(REPO_ID)

    from dictate.engine.transcriber import Engine

    info = Engine(REPO_ID, device="cpu").load()
    assert (info.origin, info.model) == ("hub-cache", REPO_ID)
    assert hub.requests == [] and events == []


@pytest.mark.parametrize("error_code", [True, False], ids=["RepoNotFound", "bare-404"])
def test_missing_repo_is_a_one_line_model_not_available(serve, error_code):
    hub = serve(FakeHub(files={}, repo_exists=False, error_code=error_code))
    with pytest.raises(ModelNotAvailableError) as err:
        loading.resolve(REPO_ID, progress=lambda p: None)
    message = str(err.value)
    assert REPO_ID in message and "the download failed (" in message and "404" in message
    assert "\n" not in message, message
    assert hub.requests == [("GET", f"/api/models/{REPO_ID}/revision/main")]
    assert not (Path(constants.HF_HUB_CACHE) / "models--acme--whisper-test" / "snapshots").exists()


def test_assistant_download_reports_its_own_progress(serve, random_model_dir, monkeypatch):
    """The draft model is fetched like any model, its progress named as the assistant's."""
    from dictate.engine.transcriber import Engine

    model = read_folder(random_model_dir)
    serve(FakeHub(files=model))
    events: list[loading.Progress] = []
    engine = Engine(str(random_model_dir), device="cpu", assistant=REPO_ID, progress=events.append)
    info = engine.load()
    assert info.assistant == REPO_ID and engine._assistant is not None
    downloads = [e for e in events if e.stage == "download"]
    assert downloads and all(e.message == f"assistant {REPO_ID}" for e in downloads)
    assert downloads[-1].done == downloads[-1].total == sum(len(d) for d in model.values())
