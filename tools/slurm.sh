#!/bin/bash
# A throwaway single-node Slurm cluster on this machine, for testing the
# workflow's Slurm profile (README "Running on a cluster (Slurm)").
#
#   tools/slurm.sh start  STATEDIR   start munged, slurmctld and slurmd; wait
#                                    until the node is idle
#   tools/slurm.sh stop   STATEDIR   cancel the cluster's jobs, stop the
#                                    daemons this STATEDIR started
#   tools/slurm.sh status STATEDIR   daemons and sinfo; exit 0 when all run
#   tools/slurm.sh env    STATEDIR   print the export line clients need
#
# Everything (slurm.conf, munge key, sockets, pid files, logs, state) lives
# in STATEDIR; nothing is written anywhere else. Slurm's commands (sbatch,
# squeue, sinfo, snakemake's calls to them) find the cluster through
#   export SLURM_CONF=STATEDIR/slurm.conf
# Loopback only: the node and the controller are 127.0.0.1. Installs nothing
# (tools/deps.sh --workflow does). Runs as root, no systemd needed.
#
# Environment: SLURM_SH_CTLD_PORT (6817), SLURM_SH_D_PORT (6818),
# SLURM_SH_TIMEOUT (seconds to wait for the idle node, 60).
set -u

die() {
    echo "slurm.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '5,10s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
case "$cmd" in start | stop | status | env) ;; *) usage ;; esac
if [ "$cmd" = start ]; then mkdir -p "$2" || die "cannot create $2"; fi
[ -d "$2" ] || die "no such STATEDIR: $2"
state=$(cd "$2" && pwd -P)
case "$state" in *[[:space:]]*) die "STATEDIR must have no white space (slurm.conf paths): $state" ;; esac
conf=$state/slurm.conf
export SLURM_CONF=$conf
ctld_port=${SLURM_SH_CTLD_PORT:-6817}
d_port=${SLURM_SH_D_PORT:-6818}
timeout=${SLURM_SH_TIMEOUT:-60}
node=$(hostname -s 2>/dev/null || uname -n)
[ -n "$node" ] || die "no hostname"

# pidfile_of NAME: the pid file of one of the three daemons
pidfile_of() {
    case "$1" in
    munged) echo "$state/munge/munged.pid" ;;
    slurmctld) echo "$state/slurmctld.pid" ;;
    slurmd) echo "$state/slurmd.pid" ;;
    esac
}

# running NAME: prints the pid when NAME's pid file names a live process
# that is that daemon started for this STATEDIR (a stale pid file from a
# crashed run, or a pid reused by another process, does not count).
running() {
    local f pid cmdline
    f=$(pidfile_of "$1")
    [ -s "$f" ] || return 1
    pid=$(tr -dc 0-9 <"$f")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    case "$cmdline" in
    *"$1"*"$state/"*) echo "$pid" ;;
    *) return 1 ;;
    esac
}

# stop_daemon NAME: TERM, up to 10 s, then KILL; removes its pid file
stop_daemon() {
    local pid i
    if pid=$(running "$1"); then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 50); do
            [ -d "/proc/$pid" ] || break
            sleep 0.2
        done
        if [ -d "/proc/$pid" ]; then
            echo "slurm.sh: $1 ($pid) ignored TERM, killing" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
        echo "stopped $1 ($pid)"
    fi
    rm -f "$(pidfile_of "$1")"
}

# what is left of this cluster's jobs when its daemons died: the slurmstepd
# processes that carry SLURM_CONF=STATEDIR's slurm.conf in their
# environment, and all their descendants (the jobs' own processes)
stray_jobs() {
    local p steps=
    for p in $(pgrep -x slurmstepd); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$conf" &&
            steps="$steps $p"
    done
    [ -n "$steps" ] || return 0
    ps -e -o pid=,ppid= | awk -v roots="$steps" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
        { parent[$1] = $2 }
        END {
            do {
                grew = 0
                for (c in parent)
                    if (!(c in keep) && (parent[c] in keep)) { keep[c] = 1; grew = 1 }
            } while (grew)
            for (k in keep) print k
        }'
}

node_state() {
    sinfo -h -n "$node" -o %t 2>/dev/null | head -n1
}

do_stop() {
    local i pids jobs
    if running slurmctld >/dev/null; then
        jobs=$(squeue -h -o %i 2>/dev/null)
        [ -z "$jobs" ] || scancel --quiet --full $jobs 2>/dev/null
        for i in $(seq 50); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    pids=$(stray_jobs)
    if [ -n "$pids" ]; then
        echo "slurm.sh: killing what is left of jobs:" $pids >&2
        kill -KILL $pids 2>/dev/null
    fi
    stop_daemon munged
    rm -f "$state/munge/munge.socket.2" "$state/munge/munge.socket.2.lock"
}

port_busy() {
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

write_conf() {
    # CPUs, sockets, cores and memory as slurmd itself sees them
    local hw cpus sockets cores threads mem defmem
    hw=$(slurmd -C 2>/dev/null | head -n1)
    cpus=$(echo "$hw" | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
    sockets=$(echo "$hw" | sed -n 's/.* SocketsPerBoard=\([0-9]*\).*/\1/p')
    cores=$(echo "$hw" | sed -n 's/.* CoresPerSocket=\([0-9]*\).*/\1/p')
    threads=$(echo "$hw" | sed -n 's/.* ThreadsPerCore=\([0-9]*\).*/\1/p')
    mem=$(echo "$hw" | sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p')
    if [ -z "$cpus" ] || [ -z "$mem" ]; then
        cpus=$(nproc)
        mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
        sockets=1 cores=$cpus threads=1
    fi
    # a job that asks for no memory gets its share per CPU, not the node
    defmem=$((mem / cpus))
    cat >"$conf" <<EOF
# generated by tools/slurm.sh for a single-node test cluster
ClusterName=blotquant
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket.2
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool/%n
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$defmem
SchedulerType=sched/backfill
# a job asking for more than the node has is refused by sbatch, not left
# pending for ever (Reason=PartitionConfig), so snakemake fails at once
EnforcePartLimits=ALL
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

log_tails() {
    local f
    for f in "$state/munge/munged.log" "$state/slurmctld.log" "$state/slurmd.log"; do
        [ -f "$f" ] || continue
        echo "--- tail of $f" >&2
        tail -n 15 "$f" >&2
    done
}

# fail_start MESSAGE: says why, shows the logs, stops what did start
fail_start() {
    echo "slurm.sh: $*" >&2
    log_tails
    do_stop >&2
    exit 1
}

do_start() {
    local t s
    for t in munged slurmctld slurmd sinfo mungekey; do
        command -v "$t" >/dev/null || die "$t not found (install with: tools/deps.sh --workflow)"
    done
    [ "$(id -u)" -eq 0 ] || die "start needs root (slurmd runs jobs as their users)"
    if running munged >/dev/null && running slurmctld >/dev/null && running slurmd >/dev/null &&
        [ "$(node_state)" = idle ]; then
        echo "already running: export SLURM_CONF=$conf"
        return 0
    fi
    # whatever is left of an earlier or crashed run of this STATEDIR
    do_stop >/dev/null
    for t in "$ctld_port" "$d_port"; do
        port_busy "$t" && die "port $t is in use (another Slurm?); set SLURM_SH_CTLD_PORT / SLURM_SH_D_PORT"
    done
    mkdir -p "$state/munge" "$state/ctld" "$state/spool" || die "cannot write $state"
    # munged wants the socket's folder open to all (the key stays 0600)
    chmod 755 "$state/munge"
    rm -f "$state/slurmctld.log" "$state/slurmd.log"
    write_conf

    [ -s "$state/munge/munge.key" ] || mungekey -c -k "$state/munge/munge.key" ||
        die "mungekey failed"
    chmod 600 "$state/munge/munge.key"
    # --force: the STATEDIR's parents may be group-writable, and a socket
    # of a crashed munged may still be there
    munged --force --socket="$state/munge/munge.socket.2" \
        --key-file="$state/munge/munge.key" --pid-file="$state/munge/munged.pid" \
        --log-file="$state/munge/munged.log" --seed-file="$state/munge/munged.seed" ||
        fail_start "munged did not start"
    for t in $(seq 50); do
        [ -S "$state/munge/munge.socket.2" ] && break
        sleep 0.1
    done

    # -c / -c: a clean start, no jobs or node state of an earlier run
    slurmctld -c -f "$conf" || fail_start "slurmctld did not start"
    slurmd -c -f "$conf" -N "$node" || fail_start "slurmd did not start"

    for t in $(seq $((timeout * 2))); do
        s=$(node_state)
        if [ "$s" = idle ]; then
            echo "cluster up: node $node idle, partition main"
            echo "export SLURM_CONF=$conf"
            return 0
        fi
        sleep 0.5
    done
    fail_start "node $node not idle after ${timeout}s (sinfo state: '${s:-none}')"
}

do_status() {
    local d pid rc=0
    for d in munged slurmctld slurmd; do
        if pid=$(running "$d"); then
            echo "$d: running ($pid)"
        else
            echo "$d: not running"
            rc=1
        fi
    done
    if [ $rc -eq 0 ]; then
        sinfo
        squeue
    fi
    return $rc
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
env) echo "export SLURM_CONF=$conf" ;;
esac
