#!/bin/sh
# snakemake --cluster-status for Slurm without accounting (no sacct needed):
# given the id that `sbatch --parsable` printed ("123" or "123;cluster"),
# prints exactly one of running, success, failed and exits 0.
#   squeue    pending and running jobs, and finished ones for MinJobAge
#             (300 s by default) after their end
#   sacct     only asked when squeue no longer knows the job; works where
#             the cluster has accounting
# A controller that does not answer means "running": snakemake asks again
# (about every 10 s) instead of failing a job that may still be fine. A job
# neither of them knows is "failed", so that snakemake stops waiting on it.
id=${1%%;*}
case "$id" in
'' | *[!0-9_]*) echo "slurm-status.sh: bad job id '$1'" >&2; echo failed; exit 0 ;;
esac

# state STATE: the snakemake word for a Slurm job state
state() {
    case "$1" in
    COMPLETED) echo success ;;
    BOOT_FAIL | CANCELLED* | DEADLINE | FAILED | NODE_FAIL | OUT_OF_MEMORY | \
        PREEMPTED | TIMEOUT | SPECIAL_EXIT | REVOKED) echo failed ;;
    *) echo running ;; # PENDING RUNNING COMPLETING CONFIGURING SUSPENDED REQUEUED ...
    esac
}

if out=$(squeue -h -j "$id" -t all -o %T 2>&1); then
    s=$(printf '%s\n' "$out" | head -n1)
    if [ -n "$s" ]; then
        state "$s"
        exit 0
    fi
else
    case "$out" in
    *"Invalid job id"*) ;; # purged from the controller: try sacct
    *)
        echo "slurm-status.sh: squeue -j $id: $out" >&2
        echo running
        exit 0
        ;;
    esac
fi
s=$(sacct -X -n -P -j "$id" -o State 2>/dev/null | head -n1)
if [ -n "$s" ]; then
    state "${s%% *}"
else
    echo "slurm-status.sh: Slurm knows no job $id (squeue, sacct)" >&2
    echo failed
fi
