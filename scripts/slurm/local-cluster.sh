#!/bin/bash
# A real single-node Slurm cluster in a folder, for tests and for trying the job scripts:
#   scripts/slurm/local-cluster.sh start DIR [CPUS]   writes DIR/slurm.conf, a munge key, starts
#                                                     munged, slurmctld and slurmd, waits for the
#                                                     node to be idle; prints `export SLURM_CONF=...`
#   scripts/slurm/local-cluster.sh stop DIR           stops them (only the daemons it started)
# Needs Debian's slurm-wlm and munge, python3 (to find free ports), and root (the daemons run as
# the calling user). No GRES: for
# GPUs, add `GresTypes=gpu` and `Gres=gpu:1` on the node line, and a gres.conf naming the
# device (`Name=gpu File=/dev/nvidia0`), as README's "Cluster runs" says.
set -euo pipefail
cmd=${1:?start or stop}
dir=$(realpath -m "${2:?give the cluster folder}")
cpus=${3:-2}

stop() {
    for d in slurmd slurmctld munged; do
        if [ -f "$dir/$d.pid" ]; then
            pid=$(cat "$dir/$d.pid")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            rm -f "$dir/$d.pid"
        fi
    done
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) echo "error: $cmd: accepted start DIR [CPUS] or stop DIR" >&2; exit 2 ;;
esac

for tool in munged slurmctld slurmd sbatch python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found: install Debian's slurm-wlm, munge and python3" >&2; exit 2; }
done
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"
host=$(hostname -s)
# Ports the cluster alone uses: two free ones from the kernel's ephemeral range.
read -r ctl_port node_port < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
cat > "$dir/slurm.conf" <<CONF
ClusterName=highlight-emu-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$node_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
# A daemon that fails to start takes the ones started before it down with it.
trap stop ERR
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N "$host"
for _ in $(seq 300); do
    if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
        echo "export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.2
done
echo "error: the node did not come up within 60 s; see $dir/slurmctld.log and $dir/slurmd.log" >&2
stop
exit 1
