#!/bin/bash
# A bubblewrap sandbox (Debian's bubblewrap, run as root without a user
# namespace): bwrap's own init is PID 1 of the sandbox's PID namespace, with
# its root on a tmpfs, /usr and /etc bound read-only from the host, its own
# /proc, /dev and /tmp, and network, IPC and UTS namespaces of its own. The
# workload (counters, a TCP connection over the sandbox's loopback, a
# session whose leader exited) runs under it. `crpc dump PID DIR` of bwrap's
# init with no option checkpoints it (bwrap's program and libraries, mapped
# from the host's mounts, become external files); `crpc restore DIR` brings
# it back. Without --new-session the sandbox's session is led from outside
# its PID namespace: a blocker says so and how to start it.
# shellcheck disable=SC2015 # A && B || fail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/ns_lib.sh"
command -v bwrap >/dev/null || fail "bwrap is missing (Debian package bubblewrap; scripts/setup installs it)"

cp "$HELPERS/ns_sandbox.py" "$TMP/"

# start_bwrap [BWRAP OPTION...]: the sandbox, in a session of the test's own; prints bwrap's init
start_bwrap() {
	setsid bwrap "$@" --unshare-pid --unshare-net --unshare-ipc --unshare-uts \
		--ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
		--symlink usr/bin /bin --symlink usr/sbin /sbin --proc /proc --dev /dev --tmpfs /tmp \
		--bind "$TMP" "$TMP" /usr/bin/python3 "$TMP/ns_sandbox.py" "$TMP" \
		</dev/null >/dev/null 2>&1 &
	track $!
	sandbox_init $!
}

# --- without --new-session: refused, with the way around -----------------------------
init=$(start_bwrap) || fail "the sandbox's init did not start"
track "$init"
wait_for "[ -s $TMP/ready ]" 20 || fail "the sandbox did not get ready"
expect_exit 1 "$CRPC_BIN" dump "$init" "$TMP/refused"
assert_contains "$ERR" "session-outside" "dump of a sandbox led from outside"
expect_exit 1 "$CRPC_BIN" inspect "$init"
assert_contains "$OUT" "bwrap --new-session" "the blocker's way around"
[ -e "/proc/$init" ] || fail "the refused dump ended the sandbox"
kill -KILL "$init"
wait_gone "$init" 5 || fail "the sandbox $init does not end"
rm -f "$TMP"/*.count "$TMP/ready"

# --- with --new-session: dump and restore with no option -------------------------------
init=$(start_bwrap --new-session) || fail "the sandbox's init did not start"
track "$init"
wait_for "[ -s $TMP/ready ]" 20 || fail "the sandbox did not get ready"
[ "$(ns_pid "$init")" = 1 ] || fail "bwrap's init $init is not PID 1 of its namespace"
for c in init tcp zl; do
	advances "$c" 2 10 || fail "counter $c of the sandbox does not count"
done
expect_exit 0 "$CRPC_BIN" inspect --json "$init"
echo "$OUT" >"$TMP/inspect.json"
doc_true "$TMP/inspect.json" \
	"not d['blockers']" \
	"any(m['mountpoint'] == '/' and m['fstype'] == 'tmpfs' for m in d['own_namespaces']['mounts'])" \
	"any(m['mountpoint'] == '/usr' and m['how'] == 'external' for m in d['own_namespaces']['mounts'])" \
	"any(f['path'] == '/usr/bin/bwrap' and f['fd'] == -1 for f in d['own_namespaces']['outside_files'])"

dump_sandbox "$init" "$TMP/ckpt"
V_INIT=$(value init) V_TCP=$(value tcp) V_ZL=$(value zl)
expect_exit 0 "$CRPC_BIN" restore "$TMP/ckpt"
note "restore: $ERR"
restored_init
assert_contains "$ERR" "/usr/bin/bwrap" "restore's notes (bwrap's program given back)"
[ "$(cat "/proc/$rinit/comm")" = bwrap ] || fail "the restored init is $(cat "/proc/$rinit/comm"), not bwrap"
check_sandbox_restored "$rinit"
# the sandbox's own root: /tmp is a tmpfs of its own, the host's /usr bound in
[ "$(nsenter -t "$rinit" -m stat -f -c %T /tmp)" = tmpfs ] || fail "the sandbox's /tmp is not a tmpfs"
nsenter -t "$rinit" -m test -x /usr/bin/python3 || fail "the sandbox's /usr is not bound back"
