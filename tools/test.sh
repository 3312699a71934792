#!/bin/sh
# Builds blotquant and runs the whole test suite (the README's second command).
# The report test opens index.html in headless Chromium: Debian's chromium is
# installed here if it is missing (it is needed only by the tests).
set -e
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
    echo "installing: chromium (for the index.html test)"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
export BQ_REQUIRE_CHROMIUM=1
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure
