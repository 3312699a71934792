#!/bin/bash
# Runs a command against a throwaway single-node Slurm cluster:
#   tests/workflow_slurm.sh COMMAND [ARGS...]
# e.g. tests/workflow_slurm.sh snakemake --profile workflow/profiles/slurm ...
# Starts the cluster (tools/slurm.sh) in a temporary STATEDIR on free ports,
# runs COMMAND with SLURM_CONF pointing at it, always stops the cluster, and
# exits with COMMAND's status. The STATEDIR (slurm and munge logs) is removed
# when COMMAND passes and kept, with its path printed, when it fails.
# Exit 77 (skipped) when slurm-wlm, munge or snakemake is not installed
# (tools/deps.sh --workflow) or when not run as root (slurmd needs root).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi
for t in slurmctld slurmd sbatch munged mungekey snakemake; do
    if ! command -v "$t" >/dev/null; then
        echo "SKIP: $t not installed (tools/deps.sh --workflow installs slurm-wlm, munge, snakemake)"
        exit 77
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: a test Slurm cluster needs root (slurmd)"
    exit 77
fi

# two free ports next to each other, so that a cluster already running here
# (on 6817/6818 or another test's) is left alone
busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
for p in $(seq 16817 2 16999); do
    if ! busy "$p" && ! busy $((p + 1)); then
        export SLURM_SH_CTLD_PORT=$p SLURM_SH_D_PORT=$((p + 1))
        break
    fi
done

statedir=$(mktemp -d "${TMPDIR:-/tmp}/blotquant-slurm.XXXXXX")
rc=1
cleanup() {
    "$here/tools/slurm.sh" stop "$statedir" >/dev/null
    if [ "$rc" -eq 0 ]; then
        rm -rf "$statedir"
    else
        echo "workflow_slurm: exit $rc; cluster logs kept in $statedir" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/tools/slurm.sh" start "$statedir" || exit 1
export SLURM_CONF=$statedir/slurm.conf
"$@"
rc=$?
exit $rc
