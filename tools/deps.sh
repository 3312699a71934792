#!/bin/sh
# Installs the Debian packages blotquant needs to build and test, if missing.
# Run as root (or with sudo) on Debian 12. Safe to run again.
#   tools/deps.sh              build and test dependencies only
#   tools/deps.sh --workflow   also the workflow packages: snakemake, Slurm
#                              (slurmctld, slurmd, client) and munge, without
#                              Recommends (those pull in ~230 more packages)
set -e
PKGS="build-essential cmake pkg-config libtiff-dev libpng-dev libfftw3-dev \
libcairo2-dev libpango1.0-dev libgsl-dev libinih-dev libcmocka-dev time bc"
WORKFLOW_PKGS="snakemake slurm-wlm munge iproute2 procps"
workflow=
for arg in "$@"; do
    case "$arg" in
    --workflow) workflow=1 ;;
    -h | --help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "deps.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
updated=
# install_missing LIST [apt-get options]: installs the packages of LIST not yet installed
install_missing() {
    list=$1
    shift
    missing=""
    for p in $list; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    echo "installing:$missing"
    [ -n "$updated" ] || $SUDO apt-get update -qq
    updated=1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" $missing
}
install_missing "$PKGS"
[ -z "$workflow" ] || install_missing "$WORKFLOW_PKGS" --no-install-recommends
