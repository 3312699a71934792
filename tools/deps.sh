#!/bin/sh
# Installs the Debian packages blotquant needs to build and test, if missing.
# Run as root (or with sudo) on Debian 12. Safe to run again.
set -e
PKGS="build-essential cmake pkg-config libtiff-dev libpng-dev libfftw3-dev \
libcairo2-dev libpango1.0-dev libgsl-dev libinih-dev libcmocka-dev time bc"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
