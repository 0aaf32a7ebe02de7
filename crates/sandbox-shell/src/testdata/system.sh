# System commands: identity, environment, mounts, errors.
hostname; whoami; id; uname; uname -a
which ls cowsay nosuch; echo "which: $?"
export GREETING=hi; env | grep GREETING; unset GREETING; echo "[${GREETING}]"
A=1 sh -c 'echo "child sees $A"'; echo "parent sees [$A]"
df -h | head -n 1
df | grep -c data
cd /nope; echo "cd: $?"
set -e
false || echo "guarded"
sh -c 'exit 7'
echo "not reached"
