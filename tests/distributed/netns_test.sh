#!/usr/bin/env bash
# Two "machines" on one box: two network namespaces joined by a veth pair, each with its own IP.
# mpirun runs in the first and starts the second rank's daemon in the other namespace through
# a launcher agent (in place of ssh); the ranks talk over OpenMPI's TCP transport only (no
# shared memory), and the distributed suite must pass as on one machine.
# usage: netns_test.sh MPIEXEC PROGRAM [program args...]
# Exits 0 with "SKIPPED: ..." where namespaces cannot be made (not root, no CAP_NET_ADMIN).
set -uo pipefail
mpiexec=$1 program=$2
shift 2
suffix=$$
nsa=tg_a_$suffix nsb=tg_b_$suffix veth_a=tga$suffix veth_b=tgb$suffix
ip_a=10.231.$((suffix % 200)).1 ip_b=10.231.$((suffix % 200)).2 net=10.231.$((suffix % 200)).0/24

skip() { echo "SKIPPED: $*"; exit 0; }
cleanup() { ip netns del "$nsa" 2>/dev/null; ip netns del "$nsb" 2>/dev/null; rm -rf "$work"; }
work=$(mktemp -d)
trap cleanup EXIT
command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
ip netns add "$nsa" 2>/dev/null || skip "cannot create network namespaces here (needs root / CAP_SYS_ADMIN)"
ip netns add "$nsb" || skip "cannot create a second network namespace"
ip link add "$veth_a" type veth peer name "$veth_b" 2>/dev/null || skip "cannot create a veth pair"
ip link set "$veth_a" netns "$nsa" && ip link set "$veth_b" netns "$nsb" || skip "cannot move veth ends"
ip -n "$nsa" addr add "$ip_a/24" dev "$veth_a"
ip -n "$nsb" addr add "$ip_b/24" dev "$veth_b"
for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done
ip -n "$nsa" link set "$veth_a" up
ip -n "$nsb" link set "$veth_b" up

# The launcher agent: OpenMPI calls it as `agent HOST COMMAND...` to start its daemon on HOST.
cat >"$work/agent" <<AGENT
#!/usr/bin/env bash
host=\$1; shift
case "\$host" in
  $ip_b) exec ip netns exec $nsb unshare --uts bash -c "hostname tg-node-b; \$*" ;;
  *) exec bash -c "\$*" ;;
esac
AGENT
chmod +x "$work/agent"
echo "$ip_a slots=1" >"$work/hosts"
echo "$ip_b slots=1" >>"$work/hosts"

run() {  # run PROGRAM [ARGS]: 2 ranks, one per namespace
  ip netns exec "$nsa" unshare --uts bash -c "hostname tg-node-a; exec timeout 240 '$mpiexec' \
    --allow-run-as-root -np 2 --hostfile '$work/hosts' --mca plm_rsh_agent '$work/agent' \
    --mca btl self,tcp --mca btl_tcp_if_include $net --mca oob_tcp_if_include $net \
    --mca pml ob1 $*"
}
# First prove the two ranks really are on the two "machines".
hosts=$(run hostname 2>&1 | sort | tr '\n' ' ')
[ "$hosts" = "tg-node-a tg-node-b " ] || { echo "FAIL: ranks ran on: $hosts"; exit 1; }
echo "netns_test: ranks on $hosts"
start=$SECONDS
run "'$program'" "$@"
rc=$?
echo "netns_test: exit status $rc after $((SECONDS - start)) s (ranks on $ip_a and $ip_b, TCP only)"
exit $rc
