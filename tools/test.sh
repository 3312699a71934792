#!/bin/sh
# Builds blotquant and runs the whole test suite (the README's second command):
# once as released, then once more built with AddressSanitizer and
# UndefinedBehaviorSanitizer (memory errors, leaks, undefined behaviour: any
# finding fails the run).
# The report test opens index.html in headless Chromium: Debian's chromium is
# installed here if it is missing (it is needed only by the tests), and so are
# the workflow's packages (snakemake, slurm-wlm, munge: tools/deps.sh
# --workflow) for the workflow test, which starts its own Slurm cluster.
set -e
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
    echo "installing: chromium (for the index.html test)"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
tools/deps.sh --workflow
export BQ_REQUIRE_CHROMIUM=1 BQ_REQUIRE_WORKFLOW=1 BQ_REQUIRE_SLURM=1
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure

echo "== the same tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
cmake -S . -B build-san -DBQ_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >/dev/null
cmake --build build-san -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-san --output-on-failure
