#!/usr/bin/env bash
# #18 on a real single-node Slurm (Debian's slurm-wlm and munge, configured here for this host,
# no cgroups; ../shared/design/CLUSTER.md says what was checked to work): `sweep --slurm` on a
# 2 x 1 tiny grid submits a job array, both tasks finish, `sweep collect` merges both shards and
# the merged database compares both cells. Also the --dry-run script. Started by CTest as root;
# stops the daemons it started whatever happens.
#   tests/cluster/slurm_sweep_test.sh CLI
set -euo pipefail
cli=$(readlink -f "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root to start munged, slurmctld and slurmd (CI runs as root)"
for c in munged slurmctld slurmd sbatch squeue sinfo; do
    command -v "$c" >/dev/null || fail "'$c' is missing: scripts/setup.sh installs slurm-wlm and munge"
done

work=$(mktemp -d /tmp/cp-slurm.XXXXXX)
chmod 755 "$work"  # munged runs as the munge user
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# munge: the package's key, the daemon as the munge user, its socket in a folder of our own.
mkdir -p "$work/munge" && chown munge:munge "$work/munge"
runuser -u munge -- /usr/sbin/munged --force --socket="$work/munge/munge.socket" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/munge.seed"
sleep 1
pids+=("$(cat "$work/munge/munged.pid")")
munge -S "$work/munge/munge.socket" -n | unmunge -S "$work/munge/munge.socket" | grep -q "STATUS:.*Success" \
    || fail "munge does not work: $(cat "$work/munge/munged.log")"

host=$(hostname)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
cpus=$(nproc)
port=$(( 6900 + RANDOM % 1000 ))
mkdir -p "$work/state" "$work/spool" "$work/log"
cat > "$work/slurm.conf" <<CONF
ClusterName=cptest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CryptoType=crypto/munge
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -f "$SLURM_CONF" && sleep 1
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF" && sleep 1
pids+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 1 30); do
    sinfo -h -o "%T" 2>/dev/null | grep -q idle && break
    sleep 1
done
sinfo -h -o "%T" | grep -q idle || fail "the node did not become idle: $(tail -5 "$work/log/slurmctld.log") $(tail -5 "$work/log/slurmd.log")"
echo "Slurm up: $(sinfo -h -o '%P %D %T %c')"

sweep=(--grid 'models=pythia;pythia-256' --samples 40 --seq-length 16 --epochs 1
       --eval-test-chunks 4 --eval-last-word-passages 4 --eval-kv-lengths 32 --threads 1 --quiet
       --sweep-dir "$work/sweep")
# The script, not submitted.
"$cli" sweep --slurm --dry-run --sbatch=--time=00:10:00 "${sweep[@]}" > "$work/dry.sbatch"
grep -q '^#SBATCH --array=0-1$' "$work/dry.sbatch" || fail "no --array=0-1 in the script"
grep -q '^#SBATCH --time=00:10:00$' "$work/dry.sbatch" || fail "the --sbatch flag was not passed through"
grep -q 'sweep run-cell --sweep-dir' "$work/dry.sbatch" || fail "the tasks do not run their cell"

# Submitted for real: both tasks must finish.
"$cli" sweep --slurm --sbatch=--time=00:10:00 "${sweep[@]}" | tee "$work/submit.out"
job=$(grep -o 'Submitted batch job [0-9]*' "$work/submit.out" | awk '{print $4}')
[ -n "$job" ] || fail "sbatch printed no job id"
for _ in $(seq 1 300); do
    [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 1
done
[ -z "$(squeue -h -j "$job")" ] || fail "the array did not finish in 5 minutes: $(squeue -j "$job")"
for i in 0 1; do
    [ -f "$work/sweep/shards/cell-$i.db" ] || fail "task $i wrote no shard: $(cat "$work/sweep/logs/"slurm-*_"$i".out 2>/dev/null)"
done

# Collect: both shards merged, both cells finished; collecting twice adds nothing.
"$cli" sweep collect --sweep-dir "$work/sweep" --db "$work/merged.db" | tee "$work/collect.out"
grep -q "2 of 2 cells finished" "$work/collect.out" || fail "collect did not find both cells"
"$cli" sweep collect --sweep-dir "$work/sweep" --db "$work/merged.db" | grep -q "imported 0 experiments" \
    || fail "collecting twice imported again"
uid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['uid'])" "$work/sweep/sweep.json")
"$cli" experiments export --sweep "$uid" --csv "$work/sweep.csv" --db "$work/merged.db"
python3 - "$work/sweep.csv" <<'PY' || fail "the sweep table does not have both cells"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))
models = sorted(r['model'] for r in rows)
assert models == ['pythia', 'pythia-256'], models
assert all(r['test_ppl'] for r in rows), rows
print('sweep table:', [(r['model'], r['test_ppl']) for r in rows])
PY
for e in 1 2; do
    "$cli" experiments compare "$e" --db "$work/merged.db" > /dev/null || fail "experiment $e does not compare"
done
echo "PASS: Slurm job array $job ran both cells; collect merged both shards"
