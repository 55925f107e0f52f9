"""Desktop files validated by the freedesktop tools, the macOS Info.plist, the menu-entry helper,
a wheel installed into a fresh venv, and (marked `bundle`) the PyInstaller bundle transcribing."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
import time
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dictate import assets
from dictate.integration import APP_ID, desktop
from tests.conftest import REPO, wer

LINUX = REPO / "packaging" / "linux"
DESKTOP_FILE = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} missing (apt install {package}; tests/setup.sh does)")
    return path


def desktop_file_validate(path: Path) -> None:
    exe = tool("desktop-file-validate", "desktop-file-utils")
    done = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=60)
    # Hints are advice; errors and warnings are not accepted.
    problems = [line for line in done.stdout.splitlines() if ": hint: " not in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


def desktop_keys(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").split("\n[")[0].splitlines()[1:]
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_desktop_file_validates() -> None:
    desktop_file_validate(DESKTOP_FILE)


def test_metainfo_validates() -> None:
    exe = tool("appstreamcli", "appstream")
    done = subprocess.run(
        [exe, "validate", "--no-net", "--explain", str(METAINFO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_desktop_file_and_metainfo_agree() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.find("launchable[@type='desktop-id']").text == DESKTOP_FILE.name
    keys = desktop_keys(DESKTOP_FILE)
    assert keys["Name"] == root.findtext("name")
    assert keys["Exec"] == "dictate"
    # The icon the menu shows is shipped at the standard sizes.
    assert root.findtext("icon[@type='stock']") == keys["Icon"] == "dictate"
    for size in (16, 32, 48, 128, 256, 512):
        assert assets.icon_path(keys["Icon"], size).parent.name == "apps"
    # Release in the metainfo matches the package version.
    from dictate import __version__

    assert root.find("releases/release").get("version") == __version__


def test_info_plist_has_what_macos_requires() -> None:
    with open(REPO / "packaging" / "macos" / "Info.plist", "rb") as f:
        info = plistlib.load(f)
    assert info["CFBundleIdentifier"] == APP_ID
    assert info["LSUIElement"] is True  # a menu-bar app: no Dock icon
    text = info["NSMicrophoneUsageDescription"]
    assert "microphone" in text.lower() and len(text) > 40  # macOS shows it in the prompt
    assert info["CFBundlePackageType"] == "APPL"
    from dictate import __version__

    assert info["CFBundleShortVersionString"] == __version__


def test_menu_entry_helper_installs_and_uninstalls(tmp_path: Path) -> None:
    root = tmp_path / "share"
    argv = ["/opt/dictate bundle/dictate"]
    written = desktop.install(argv, root=root)
    entry = root / "applications" / f"{APP_ID}.desktop"
    assert entry in written
    desktop_file_validate(entry)
    keys = desktop_keys(entry)
    assert keys["Exec"] == '"/opt/dictate bundle/dictate"'
    assert keys["TryExec"] == argv[0]
    assert '"/opt/dictate bundle/dictate" toggle' in entry.read_text()  # the action too
    assert (root / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in (16, 48, 512):
        png = root / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "dictate.png"
        assert png.read_bytes() == assets.icon_path("dictate", size).read_bytes()
    assert (root / "icons" / "hicolor" / "scalable" / "apps" / "dictate.svg").is_file()

    removed = desktop.uninstall(root=root)
    assert sorted(removed) == sorted(written)
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_pyinstaller_spec_and_launcher_compile() -> None:
    for path in (REPO / "packaging" / "pyinstaller").iterdir():
        if path.suffix in (".py", ".spec"):
            compile(path.read_text(encoding="utf-8"), str(path), "exec")


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv(tmp_path: Path) -> None:
    """Build the wheel, `pip install` it into a new venv and get a working command and assets.

    Offline on purpose: the wheel is built without build isolation by this interpreter, whose
    setuptools the `test` extra keeps new enough for the SPDX licence string (tests/setup.sh),
    and the new venv reuses this environment's packages (torch & co.) through a .pth file, so
    nothing is downloaded. A venv made with --system-site-packages would instead see the *base*
    interpreter's packages (its old setuptools, and none of ours when this runs in a venv)."""
    import sysconfig

    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*build, "-w", str(wheels), str(REPO)],
        check=True,
        timeout=600,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("dictate-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=False)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "outer-environment.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    # --ignore-installed: this environment's own (editable) dictate is visible through the .pth
    # and must neither count as installed nor be touched.
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--ignore-installed", str(wheel)],
        check=True,
        timeout=600,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    version = subprocess.run(
        [str(bindir / "dictate"), "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert version.returncode == 0 and version.stdout.strip().startswith("dictate 0."), version
    probe = (
        "import dictate, dictate.assets as a;"
        "print(dictate.__file__);"
        "print(a.icon_path('dictate'), a.icon_path('tray-recording', 22), a.sound_path('start'),"
        f" a.packaging_path('linux/{APP_ID}.desktop'), sep='\\n')"
    )
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    package, *files = (Path(line) for line in done.stdout.splitlines())
    installed = package.parent
    assert installed.is_relative_to(env_dir), f"imported {package}, not the venv's copy"
    for path in files:
        assert path.is_file() and path.is_relative_to(installed), path
    assert files[1].name == "tray-recording.png" and files[1].parent.parent.name == "22x22"

    # Uninstall leaves nothing of the package behind.
    subprocess.run([*pip, "uninstall", "-y", "-q", "dictate"], check=True, timeout=300, env=env)
    site = installed.parent
    assert not list(site.glob("dictate*")), list(site.glob("dictate*"))
    assert not (bindir / "dictate").exists()


@pytest.mark.slow
@pytest.mark.bundle
def test_bundle_builds_and_transcribes(
    tmp_path: Path, fixtures_dir: Path, references: dict[str, str], embedded_src: Path
) -> None:
    """Build the one-folder bundle (minutes), then transcribe recorded speech with it, offline,
    in an environment that has nothing of this Python: the text must be right."""
    pytest.importorskip("PyInstaller", reason="pip install '.[bundle]'")
    dist = tmp_path / "dist"
    build_env = {
        **os.environ,
        "DICTATE_BUNDLE_DIST": str(dist),
        "DICTATE_BUNDLE_WORK": str(tmp_path / "work"),
        "PYTHON": sys.executable,
    }
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(REPO / "packaging" / "build_bundle.sh")],
        capture_output=True,
        text=True,
        env=build_env,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    minutes = (time.monotonic() - started) / 60
    exe = dist / "dictate" / ("dictate.exe" if os.name == "nt" else "dictate")
    assert exe.is_file()
    # The shipped files are where dictate.assets looks inside a bundle.
    internal = next(dist.glob("dictate/*/dictate/_resources")).parent
    assert (internal / "_resources" / "sounds" / "start.wav").is_file()
    assert (internal / "_packaging" / "linux" / DESKTOP_FILE.name).is_file()

    clean = {  # no Python, no site-packages, no caches of ours: only the bundle itself
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "HF_HUB_OFFLINE": "1",
        "DICTATE_CACHE_DIR": str(tmp_path / "cache"),
    }
    files = [fixtures_dir / "jfk.flac", fixtures_dir / "LDC93S1.wav"]
    run = subprocess.run(
        [str(exe), "transcribe", *map(str, files), "--model", "embedded", "--device", "cpu"],
        capture_output=True,
        text=True,
        env=clean,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert len(lines) == 2, run.stdout
    # jfk: exact once punctuation is set aside; LDC93S1: tiny.en hears "dog" for "dark".
    assert wer(references["jfk.flac"], lines[0]) == 0, lines[0]
    assert wer(references["LDC93S1.wav"], lines[1]) <= 0.1, lines[1]
    size_mb = sum(p.stat().st_size for p in (dist / "dictate").rglob("*") if p.is_file()) / 1e6
    print(f"bundle: built in {minutes:.1f} min, {size_mb:.0f} MB; {lines}")


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "dictate").rglob("__init__.py")
    }
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
