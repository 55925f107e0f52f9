#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian/Ubuntu machine: system packages with
# apt-get, Python packages with pip. Safe to run again; it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  ffmpeg                                           # m4a/mp4/webm/... decoding
  xvfb xauth x11-utils xdotool xclip xterm x11-xkb-utils  # X session, terminal target
  openbox                                          # a real window manager on the Xvfb display
  trayer imagemagick                               # a tray host; screenshots
  desktop-file-utils appstream                     # validators for the .desktop and metainfo files
  libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins  # the virtual microphone
  gcc libc6-dev linux-libc-dev python3-dev        # pynput's evdev builds from source
  # Qt (xcb) for the stand-in target window
  libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0
  libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1
  libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0
  # Wayland: headless compositors (sway: wlroots; weston: no virtual keyboard), a native
  # target window, the insertion tools, and a private D-Bus for the stand-in portal
  sway foot wtype wl-clipboard weston dbus-daemon
  fonts-dejavu-core                                # foot refuses to start without a font
  espeak-ng                                        # German/French/Spanish speech for the language tests
)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
# torch first and pinned: on the project's machines this is the local CPU wheel, while an open
# range would pull the multi-GB CUDA build. The package itself asks for a range.
"$python" -m pip install -q "torch==2.13.0"
"$python" -m pip install -q -e ".[offline,test,bundle]"  # bundle: PyInstaller, for the bundle test
