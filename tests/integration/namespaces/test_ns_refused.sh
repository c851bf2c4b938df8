#!/bin/bash
# What crpc refuses about trees in namespaces of their own, and the veth
# pair whose other end is outside:
# - a process inside a PID namespace that is not its init: a blocker naming
#   the init to dump instead;
# - a tree whose mount namespace other processes outside the tree share: a
#   blocker naming one of them (the restore would part them);
# - a veth whose other end is in a third network namespace: a blocker;
# - a veth whose other end is in crpc's network namespace: dumped with no
#   option, and restored with the same names (external veth[...]), crpc
#   saying which addresses to add back, or with the name --external gives;
# - a mount bound from crpc's namespace that is gone at restore: refused
#   before CRIU runs, restored once it is back.
# Nothing refused is touched: the processes keep running.
# shellcheck disable=SC2015,SC2016 # A && B || fail; code for other shells
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/ns_lib.sh"

# --- a PID that is not its namespace's init -------------------------------------------
start_sandbox
wait_for "[ -s $TMP/ready ]" 20 || fail "the sandbox did not get ready"
child=
for c in $(cat "/proc/$init/task/$init/children"); do
	[ "$(proc_state "$c")" != Z ] && child=$c && break
done
[ -n "$child" ] && [ "$(ns_pid "$child")" != 1 ] || fail "no child of the sandbox's init"
expect_exit 1 "$CRPC_BIN" dump "$child" "$TMP/child"
assert_contains "$ERR" "pid-namespace" "dump of a process inside a PID namespace"
expect_exit 1 "$CRPC_BIN" inspect --json "$child"
echo "$OUT" >"$TMP/child.json"
doc_true "$TMP/child.json" \
	"d['blockers'][0]['blocker'] == 'pid-namespace'" \
	"'crpc dump $init DIR' in d['blockers'][0]['reason']" \
	"d['own_namespaces']['pid_ns_init'] == $init"
[ -e "/proc/$child" ] && [ -e "/proc/$init" ] || fail "the refused dump ended the sandbox"

# --- a veth whose other end is in crpc's network namespace -----------------------------
v=crpcv$$
host_end=${v}h sb_end=${v}s
net=10.$((($$ >> 8) % 200 + 20)).$(($$ % 250)).
del_links() { ip link del "$host_end" 2>/dev/null || true; }
CLEANUP_CMDS+=(del_links)
ip link add "$host_end" type veth peer name "$sb_end" || fail "cannot make a veth pair"
ip link set "$sb_end" netns "$init"
ip addr add "${net}1/30" dev "$host_end"
ip link set "$host_end" up
nsenter -t "$init" -n ip addr add "${net}2/30" dev "$sb_end"
nsenter -t "$init" -n ip link set "$sb_end" up
expect_exit 0 "$CRPC_BIN" inspect --json "$init"
echo "$OUT" >"$TMP/veth.json"
doc_true "$TMP/veth.json" \
	"not d['blockers']" \
	"[n for n in d['own_namespaces']['netdevs'] if n['name'] == '$sb_end'][0]['peer'] == '$host_end'" \
	"[n for n in d['own_namespaces']['netdevs'] if n['name'] == '$sb_end'][0]['peer_addrs'] == '${net}1/30'"
V_INIT=$(value init) V_TCP=$(value tcp) V_ZL=$(value zl)
expect_exit 0 "$CRPC_BIN" dump "$init" "$TMP/veth"
note "dump: $ERR"
assert_contains "$ERR" "veth $sb_end of the tree has its other end $host_end" "the dump's warning"
wait_gone "$init" 5 || fail "the sandbox's init $init still exists after the dump"
wait_for "! ip link show $host_end >/dev/null 2>&1" 10 || fail "the veth pair outlived the dump"
V_INIT=$(value init) V_TCP=$(value tcp) V_ZL=$(value zl)
expect_exit 0 "$CRPC_BIN" restore "$TMP/veth"
note "restore: $ERR"
restored_init
assert_contains "$ERR" "external=veth[$sb_end]:$host_end" "the restore's notes"
assert_contains "$ERR" "ip addr add ${net}1/30 dev $host_end" "what the user must do"
check_sandbox_restored "$rinit"
ip link show "$host_end" >/dev/null || fail "the veth's outside end $host_end did not come back"
wait_for "nsenter -t $rinit -n ip -o addr show dev $sb_end | grep -q '${net}2/30'" 10 ||
	fail "the sandbox's end $sb_end did not come back with its address: $(nsenter -t "$rinit" -n ip -o addr show 2>&1)"
ip addr add "${net}1/30" dev "$host_end"
ip link set "$host_end" up
if command -v ping >/dev/null; then
	wait_for "ping -c 1 -W 1 ${net}2 >/dev/null" 10 || fail "the restored sandbox does not answer on its veth"
fi
# again, the outside end renamed by the user
other_end=${v}o
del_other() { ip link del "$other_end" 2>/dev/null || true; }
CLEANUP_CMDS+=(del_other)
V_INIT=$(value init) V_TCP=$(value tcp) V_ZL=$(value zl)
expect_exit 0 "$CRPC_BIN" dump "$rinit" "$TMP/veth2"
wait_gone "$rinit" 5 || fail "the restored sandbox $rinit still exists after the second dump"
wait_for "! ip link show $host_end >/dev/null 2>&1" 10 || fail "the veth pair outlived the second dump"
expect_exit 0 "$CRPC_BIN" restore --external "veth[$sb_end]:$other_end" "$TMP/veth2"
restored_init
assert_contains "$ERR" "veth[$sb_end]: given by you" "the restore's notes"
check_sandbox_restored "$rinit"
ip link show "$other_end" >/dev/null || fail "the veth's outside end did not come back as $other_end"
! ip link show "$host_end" >/dev/null 2>&1 || fail "the veth's outside end came back as $host_end despite --external"
kill -KILL "$rinit"
wait_gone "$rinit" 5 || fail "the restored sandbox $rinit does not end"

# --- a veth whose other end is in a third network namespace ------------------------------
rm -f "$TMP"/*.count "$TMP/ready"
start_sandbox
unshare --net bash -c 'while :; do sleep 0.2; done' "$TMP" </dev/null >/dev/null 2>&1 &
other=$!
track "$other"
wait_for "[ -s $TMP/ready ]" 20 || fail "the sandbox did not get ready"
ip link add "$host_end" type veth peer name "$sb_end" || fail "cannot make a veth pair"
ip link set "$sb_end" netns "$init"
ip link set "$host_end" netns "$other"
expect_exit 1 "$CRPC_BIN" dump "$init" "$TMP/third"
assert_contains "$ERR" "veth-peer" "dump with a veth into a third namespace"
[ -e "/proc/$init" ] || fail "the refused dump ended the sandbox"
kill -KILL "$init" "$other"
wait_gone "$init" 5 || fail "the sandbox $init does not end"

# --- a mount namespace shared with processes outside the tree ----------------------------
unshare --mount --propagation private bash -c '
	setsid bash -c "while :; do sleep 0.2; done" "$0" &
	setsid bash -c "while :; do sleep 0.2; done" "$0" &
	wait' "$TMP" </dev/null >/dev/null 2>&1 &
track $!
parent=$!
wait_for "[ \"\$(wc -w </proc/$parent/task/$parent/children)\" -ge 2 ]" 10 || fail "the shared namespace did not start"
read -r first second _ <"/proc/$parent/task/$parent/children" || true
track "$first" "$second"
expect_exit 1 "$CRPC_BIN" dump "$first" "$TMP/shared"
assert_contains "$ERR" "namespace-shared" "dump of a tree sharing its mount namespace"
expect_exit 1 "$CRPC_BIN" inspect "$first"
assert_contains "$OUT" "mnt namespace is also the namespace of PID" "the blocker's reason"
[ -e "/proc/$first" ] && [ -e "/proc/$second" ] || fail "the refused dump ended a process"

# --- a mount bound from crpc's namespace that is gone at restore ---------------------------
rm -f "$TMP"/*.count "$TMP/ready"
mkdir "$TMP/ext"
mount -t tmpfs crpc-ns-ext "$TMP/ext"
umount_ext() { umount "$TMP/ext" 2>/dev/null || true; }
CLEANUP_CMDS+=(umount_ext)
echo outside >"$TMP/ext/file"
start_sandbox
wait_for "[ -s $TMP/ready ]" 20 || fail "the sandbox did not get ready"
expect_exit 0 "$CRPC_BIN" inspect --json "$init"
echo "$OUT" >"$TMP/ext.json"
doc_true "$TMP/ext.json" \
	"[m for m in d['own_namespaces']['mounts'] if m['mountpoint'] == '$TMP/ext'][0]['how'] == 'external'"
expect_exit 0 "$CRPC_BIN" dump "$init" "$TMP/extck"
wait_gone "$init" 5 || fail "the sandbox's init $init still exists after the dump"
umount "$TMP/ext"
rmdir "$TMP/ext"
expect_exit 1 "$CRPC_BIN" restore "$TMP/extck"
assert_contains "$ERR" "mount $TMP/ext of the tree was bound at the dump from $TMP/ext" "restore with a mount gone"
assert_contains "$ERR" "which is gone" "restore with a mount gone"
mkdir "$TMP/ext"
mount -t tmpfs crpc-ns-ext "$TMP/ext"
V_INIT=$(value init) V_TCP=$(value tcp) V_ZL=$(value zl)
expect_exit 0 "$CRPC_BIN" restore "$TMP/extck"
assert_contains "$ERR" "the tree gets what is there now" "restore with another tmpfs in the mount's place"
restored_init
check_sandbox_restored "$rinit"
