#!/bin/bash
# A sandbox made by `unshare --fork --pid --mount-proc --net --ipc --uts`:
# its init (PID 1 of its own PID namespace) runs counters, a TCP connection
# over its own loopback, a SysV shared memory segment and message queue, a
# tmpfs mounted in its own mount namespace, a hostname of its own, and a
# session whose leader exited and stays a zombie. `crpc dump PID DIR` with no
# option checkpoints it; `crpc restore DIR` brings it back in new
# namespaces, where everything carries on.
# shellcheck disable=SC2015 # A && B || fail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/ns_lib.sh"
command -v unshare >/dev/null || fail "unshare (util-linux) is missing"
command -v nsenter >/dev/null || fail "nsenter (util-linux) is missing"
mkdir "$TMP/tm"

start_sandbox --ipc --tmpfs --hostname crpc-sandbox
wait_for "[ -s $TMP/ready ]" 20 || fail "the sandbox did not get ready"
[ "$(ns_pid "$init")" = 1 ] || fail "PID $init is not the init of its PID namespace"
for c in init tcp zl; do
	advances "$c" 2 10 || fail "counter $c of the sandbox does not count"
done
shm=$(awk '$1 == "shm" { print $2 }' "$TMP/ready")
msg=$(awk '$1 == "msg" { print $2 }' "$TMP/ready")
[ -n "$shm" ] && [ -n "$msg" ] || fail "no SysV objects in the sandbox: $(cat "$TMP/ready")"
[ ! -e "$TMP/tm/hello" ] || fail "the sandbox's tmpfs is visible outside its mount namespace"

# --- inspect: the namespaces it owns, nothing in the way ------------------------------
expect_exit 0 "$CRPC_BIN" inspect --json "$init"
echo "$OUT" >"$TMP/inspect.json"
json_assert "$TMP/inspect.json" \
	"set(['pid','mnt','net','ipc','uts']) <= set(d['own_namespaces']['own'])" \
	"d['own_namespaces']['pid_init'] is True" \
	"not d['blockers']" \
	"any(o['option'] == 'auto_ext_mnt' for o in d['options'])" \
	"any(o['option'] == 'tcp_established' for o in d['options'])" \
	"any(m['mountpoint'] == '$TMP/tm' and m['how'] == 'recreated' for m in d['own_namespaces']['mounts'])"

# --- dump with no option --------------------------------------------------------------
dump_sandbox "$init" "$TMP/ckpt"
doc_true "$TMP/ckpt/crpc.json" \
	"set(['pid','mnt','net','ipc','uts']) <= set(d['namespaces']['own'])" \
	"d['namespaces']['root'] == '/'" \
	"any(o['option'] == 'auto_ext_mnt' and o['source'] == 'auto' for o in d['options'])" \
	"any(o['option'] == 'tcp_established' and o['source'] == 'auto' for o in d['options'])"
V_INIT=$(value init) V_TCP=$(value tcp) V_ZL=$(value zl)

# --- restore with no option -----------------------------------------------------------
expect_exit 0 "$CRPC_BIN" restore "$TMP/ckpt"
note "restore: $ERR"
restored_init
assert_contains "$ERR" "root=/" "restore's notes"
check_sandbox_restored "$rinit"
# the zombie leader is still a zombie, a child of the init
zombies=0
for c in $(cat "/proc/$rinit/task/$rinit/children"); do
	[ "$(proc_state "$c")" = Z ] && zombies=$((zombies + 1))
done
[ "$zombies" = 1 ] || fail "expected the exited session leader as a zombie, found $zombies zombie(s)"
# its own hostname, SysV objects and tmpfs
[ "$(nsenter -t "$rinit" -u hostname)" = crpc-sandbox ] || fail "the sandbox's hostname is lost"
nsenter -t "$rinit" -i ipcs -m | awk '{ print $2 }' | grep -qx "$shm" ||
	fail "the shared memory segment $shm is lost: $(nsenter -t "$rinit" -i ipcs -m)"
nsenter -t "$rinit" -i ipcs -q | awk '{ print $2 }' | grep -qx "$msg" ||
	fail "the message queue $msg is lost: $(nsenter -t "$rinit" -i ipcs -q)"
[ "$(nsenter -t "$rinit" -m cat "$TMP/tm/hello")" = "inside the sandbox" ] ||
	fail "the tmpfs of the sandbox did not come back with its file"
[ ! -e "$TMP/tm/hello" ] || fail "the sandbox's tmpfs is visible outside its mount namespace after the restore"

# --- a second time, the file from outside given back by the user --------------------------
V_INIT=$(value init) V_TCP=$(value tcp) V_ZL=$(value zl)
expect_exit 0 "$CRPC_BIN" dump "$rinit" "$TMP/ckpt2"
wait_gone "$rinit" 5 || fail "the restored sandbox $rinit still exists after the second dump"
key=$(json_get "$TMP/ckpt2/crpc.json" "[f['key'] for f in d['namespaces']['external_files'] if f['path'] == '/dev/null'][0]")
[[ $key == file\[* ]] || fail "no external /dev/null in the second checkpoint's crpc.json"
exec 7</dev/null
expect_exit 0 "$CRPC_BIN" restore --inherit-fd "fd[7]:$key" "$TMP/ckpt2"
exec 7<&-
restored_init
assert_contains "$ERR" "$key: passed by you" "the restore's notes"
assert_not_contains "$ERR" "gave back /dev/null" "the restore's notes"
check_sandbox_restored "$rinit"
