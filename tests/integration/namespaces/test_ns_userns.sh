#!/bin/bash
# Sandboxes in a user namespace of their own (`unshare --user`).
#
# CRIU 4.2.1 restores the mounts of such a tree one at a time, without their
# submounts, from inside the new user namespace, where every mount copied
# from crpc's namespace is locked to the ones beneath it: the kernel refuses
# those binds. A sandbox whose mount namespace is a plain copy of the
# host's (unshare --user --mount-proc) is therefore refused by inspection
# with the reason; so is one whose uid 0 is not mapped (CRIU's restore makes
# its tasks uid 0 of the new namespace). A sandbox that pivot_roots into a
# directory bound onto itself, with /usr bound in and its own /proc (what
# bwrap and container runtimes do), is dumped with `crpc dump PID DIR` and
# restored with `crpc restore DIR`, no option, and its counter carries on
# in a new user namespace with the same maps.
# shellcheck disable=SC2015 # A && B || fail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/ns_lib.sh"
command -v unshare >/dev/null || fail "unshare (util-linux) is missing"

COUNTER='i=0; while :; do i=$((i+1)); echo $i >"$0.new" && mv "$0.new" "$0"; sleep 0.1; done'

# --- a copy of the host's mounts: refused, with the reason --------------------------------
unshare --user --map-root-user --fork --pid --mount-proc setsid sh -c "$COUNTER" "$TMP/copy.count" \
	</dev/null >/dev/null 2>&1 &
track $!
init=$(sandbox_init $!) || fail "the sandbox's init did not start"
track "$init"
advances copy 2 10 || fail "the counter of the sandbox does not count"
expect_exit 1 "$CRPC_BIN" inspect "$init"
assert_contains "$OUT" "user-namespace-mounts" "inspect of a user namespace with the host's mounts"
assert_contains "$OUT" "locked" "the blocker's reason"
assert_contains "$OUT" "pivot_root" "the blocker's way around"
expect_exit 1 "$CRPC_BIN" dump "$init" "$TMP/refused"
assert_contains "$ERR" "user-namespace-mounts" "dump of a user namespace with the host's mounts"
[ -e "/proc/$init" ] || fail "the refused dump ended the sandbox"
kill -KILL "$init"
wait_gone "$init" 5 || fail "the sandbox $init does not end"

# --- uid 0 not mapped: refused ----------------------------------------------------------
unshare --user --fork --pid setsid sh -c "$COUNTER" "$TMP/nomap.count" </dev/null >/dev/null 2>&1 &
track $!
init=$(sandbox_init $!) || fail "the unmapped sandbox's init did not start"
track "$init"
advances nomap 2 10 || fail "the counter of the unmapped sandbox does not count"
expect_exit 1 "$CRPC_BIN" inspect --json "$init"
echo "$OUT" >"$TMP/nomap.json"
doc_true "$TMP/nomap.json" \
	"any(b['blocker'] == 'user-namespace' and 'uid 0 is not mapped' in b['reason'] for b in d['blockers'])"
kill -KILL "$init"
wait_gone "$init" 5 || fail "the sandbox $init does not end"

# --- a root of its own: dump and restore with no option ----------------------------------
R=$TMP/root
mkdir -p "$R/usr" "$R/proc" "$R/old"
for d in bin lib lib64 sbin; do ln -s "usr/$d" "$R/$d"; done
unshare --user --map-root-user --mount --propagation private --fork --pid setsid sh -c \
	"mount --bind '$R' '$R' && mount --bind /usr '$R/usr' && mount -t proc proc '$R/proc' &&
	 cd '$R' && pivot_root . old && umount -l /old && exec sh -c '$COUNTER' /root.count" \
	</dev/null >/dev/null 2>&1 &
track $!
init=$(sandbox_init $!) || fail "the pivoted sandbox's init did not start"
track "$init"
wait_for "[ -s $R/root.count ]" 10 || fail "the pivoted sandbox's counter did not start"
value() { cat "$R/$1.count" 2>/dev/null || echo -1; }
advances root 2 10 || fail "the pivoted sandbox's counter does not count"
[ "$(ns_pid "$init")" = 1 ] || fail "PID $init is not the init of its PID namespace"
expect_exit 0 "$CRPC_BIN" inspect --json "$init"
echo "$OUT" >"$TMP/inspect.json"
doc_true "$TMP/inspect.json" \
	"set(['pid','mnt','user']) <= set(d['own_namespaces']['own'])" \
	"not d['blockers']" \
	"any(w.get('warning') == 'user-namespace' for w in d['warnings'])" \
	"any(m['mountpoint'] == '/' and m['how'] == 'external' for m in d['own_namespaces']['mounts'])"
uns=$(readlink "/proc/$init/ns/user")
# held open so that the namespace, gone with the tree at the dump, keeps its
# inode number: a new namespace could otherwise be given the same
exec {uns_fd}<"/proc/$init/ns/user"
maps=$(cat "/proc/$init/uid_map" "/proc/$init/gid_map")

expect_exit 0 "$CRPC_BIN" dump "$init" "$TMP/ckpt"
note "dump: $ERR"
wait_gone "$init" 5 || fail "the sandbox's init $init still exists after the dump"
doc_true "$TMP/ckpt/crpc.json" \
	"'user' in d['namespaces']['own']" \
	"d['namespaces']['userns_uid0'] == 0 and d['namespaces']['userns_gid0'] == 0" \
	"d['namespaces']['root'] == '$R'"
V=$(value root)
sleep 0.3
[ "$(value root)" = "$V" ] || fail "the counter goes on after the dump"

expect_exit 0 "$CRPC_BIN" restore "$TMP/ckpt"
note "restore: $ERR"
[[ $OUT =~ Restored\ PID\ ([0-9]+) ]] || fail "restore did not print the restored PID: $OUT"
rinit=${BASH_REMATCH[1]}
track "$rinit"
assert_contains "$ERR" "root=$R" "restore's notes"
[ "$(ns_pid "$rinit")" = 1 ] || fail "the restored PID $rinit is not the init of a PID namespace"
r_uns=$(readlink "/proc/$rinit/ns/user")
[ "$r_uns" != "$(readlink /proc/self/ns/user)" ] || fail "the restored sandbox shares crpc's user namespace"
[ "$r_uns" != "$uns" ] || fail "the restored sandbox is in the old user namespace"
exec {uns_fd}<&-
[ "$(cat "/proc/$rinit/uid_map" "/proc/$rinit/gid_map")" = "$maps" ] ||
	fail "the restored user namespace has other maps: $(cat "/proc/$rinit/uid_map" "/proc/$rinit/gid_map")"
advances root "$V" 10 || fail "the restored sandbox's counter does not go on past $V"
[ "$(value root)" -lt $((V + 1000)) ] || fail "the counter started anew"
# the images went back to root only
[ "$(stat -c %a "$TMP/ckpt")" = 700 ] || fail "the images directory is $(stat -c %a "$TMP/ckpt") after the restore"
