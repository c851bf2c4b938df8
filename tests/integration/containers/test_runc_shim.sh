#!/bin/bash
# runc checkpoints and restores a busybox container through crpc's shim:
# Debian's runc, pointed at a symlink named `criu` that leads to crpc
# (`runc --criu DIR/criu`), with the real CRIU in $CRPC_CRIU and the shim's
# configuration in $CRPC_CONFIG (hooks on every callback, traces into this
# test's directory). The container's counter carries on after the restore,
# the hooks run in CRIU's order while runc still gets the notifications it
# needs, every session leaves a trace `crpc trace show` can read, and a
# pre-dump hook that refuses makes `runc checkpoint` fail, with the hook's
# reason at the end of the CRIU log runc's error message names, while the
# container keeps running. CRIU's own pycriu, a client that asks for no
# notifications, dumps and restores a process through the same shim with
# hooks configured.
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"

container_tools runc

suffix=${TMP##*.}
ID=crpc-it-$suffix
CG=/crpc-it-runc-$suffix
RUNC_ROOT=$TMP/runc
BUNDLE=$TMP/bundle
COUNT=$BUNDLE/rootfs/state/count

# End the container and remove its cgroups, also when the test failed,
# before lib.sh's cleanup removes $TMP. Only PIDs found in the container's
# own cgroups are ended.
runc_cleanup() {
	local rc=$?
	set +e
	"$RUNC" --root "$RUNC_ROOT" delete -f "$ID" >/dev/null 2>&1
	cgroup_end "$CG"
	return "$rc"
}
trap 'runc_cleanup; cleanup' EXIT

# The shim: a directory with `criu` -> crpc, as a user would install it.
mkdir -p "$TMP/shim" "$TMP/traces"
ln -s "$CRPC_BIN" "$TMP/shim/criu"
SHIM=$TMP/shim/criu

# Configuration: every callback appends its name to marks.
# shellcheck disable=SC2086 # the callbacks, one word each
marks_config "$TMP/shim.yaml" $HOOK_CALLBACKS
export CRPC_CONFIG=$TMP/shim.yaml

runc_() {
	"$RUNC" --root "$RUNC_ROOT" "$@"
}

# state: runc's idea of the container's status (empty when it has none)
state() {
	runc_ state "$ID" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || true
}

"$CRPC_SRC/tests/helpers/make-busybox-bundle" --cgroups-path "$CG" "$BUNDLE" ||
	fail "cannot build the busybox bundle"

# --- run ---------------------------------------------------------------------
# The container's stdio is /dev/null (CRIU cannot restore a host file
# there); runc's own messages go to --log.
(cd "$BUNDLE" && runc_ --log "$TMP/run.log" run -d "$ID" </dev/null >/dev/null 2>&1) ||
	fail "runc run failed: $(cat "$TMP/run.log")"
wait_for '[ "$(count)" -ge 5 ]' 10 || fail "the container's counter does not count ($(count))"

# init_pid: the container's init as runc knows it
init_pid() {
	runc_ state "$ID" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}
cg_before=$(<"/proc/$(init_pid)/cgroup")

# --- checkpoint through the shim ---------------------------------------------
expect_exit 0 runc_ --criu "$SHIM" checkpoint --image-path "$TMP/img" --work-path "$TMP/work" "$ID"
[ -z "$(state)" ] || fail "the container is still known to runc after the checkpoint: $(state)"
at_ckpt=$(count)
sleep 0.4
[ "$(count)" = "$at_ckpt" ] || fail "the counter moved after the checkpoint ($at_ckpt -> $(count))"
[ -s "$TMP/img/inventory.img" ] || fail "no inventory.img in the checkpoint"
dump_marks=$(<"$TMP/marks")
: >"$TMP/marks"

# --- restore through the shim ------------------------------------------------
# The shim starts CRIU before runc's request. runc moves its `criu` into the
# container's cgroups; if that comes after the shim started its CRIU, the
# shim moves that CRIU too (test_shim_forward checks the move itself): the
# restored init is in the container's cgroups either way.
CRPC_SHIM_VERBOSE=$TMP/shim-restore.log expect_exit 0 runc_ --criu "$SHIM" restore -d \
	--image-path "$TMP/img" --work-path "$TMP/work-r" --bundle "$BUNDLE" "$ID" </dev/null
[ "$(state)" = running ] || fail "runc does not see the restored container running: '$(state)'"
verbose=$(<"$TMP/shim-restore.log")
assert_contains "$verbose" "ahead of the first request" "the shim's verbose lines of the restore"
[ "$(<"/proc/$(init_pid)/cgroup")" = "$cg_before" ] ||
	fail "the restored init is in other cgroups: $(cat "/proc/$(init_pid)/cgroup") (before: $cg_before)"
carries_on "$at_ckpt"
restore_marks=$(<"$TMP/marks")
note "counter: $at_ckpt at the checkpoint, $FIRST first after the restore, now $(count)"

# --- the hooks ran in CRIU's order -------------------------------------------
# The container has its own network namespace: CRIU locks its network
# during the dump and sets up its namespaces on the restore.
want_dump=$'pre-dump\nnetwork-lock\nquery-ext-files\npost-dump'
want_restore=$'pre-restore\nsetup-namespaces\npost-setup-namespaces\npost-restore\nnetwork-unlock\npre-resume\npost-resume'
hooks_ran_as checkpoint "$dump_marks" "$want_dump"
hooks_ran_as restore "$restore_marks" "$want_restore"

# --- one trace per session, readable by crpc trace show ----------------------
session_traces "$TMP/traces"
dump_show=$DUMP_SHOW restore_show=$RESTORE_SHOW
for s in "<- NOTIFY   pre-dump" "post-dump" "<- DUMP     success" "Phases:" "Total:"; do
	assert_contains "$dump_show" "$s" "trace show of the checkpoint"
done
for s in "<- NOTIFY   pre-restore" "post-restore" "<- RESTORE  success" "Phases:" "Total:"; do
	assert_contains "$restore_show" "$s" "trace show of the restore"
done
# runc asks for CRIU's version in a session of its own: the shim remembers it
# for the traces of the later sessions
criu_ver=$("$CRPC_CRIU" --version | sed -n 's/^Version: //p')
[ -n "$criu_ver" ] || fail "no version from $CRPC_CRIU --version"
assert_contains "$dump_show" "CRIU $criu_ver at " "trace show of the checkpoint"
assert_contains "$restore_show" "CRIU $criu_ver at " "trace show of the restore"
[[ $dump_show != *'!!'* ]] || fail "the checkpoint's trace shows failures: $dump_show"
[[ $restore_show != *'!!'* ]] || fail "the restore's trace shows failures: $restore_show"

# --- a client that asks for no notifications: CRIU's own pycriu -------------
# pycriu (python3-pycriu, unpacked by scripts/setup --with-test-criu) starts
# `criu swrk N` with its stdio closed, sends one request and reads one reply:
# it cannot take a notification. With hooks configured the shim turns
# notifications on towards CRIU and answers them itself.
pycriu_dir=
if [ -r /etc/crpc/distro-criu-path ]; then
	pycriu_dir=$(dirname "$(dirname "$(<"/etc/crpc/distro-criu-path")")")/lib/python3/dist-packages
fi
if [ -n "$pycriu_dir" ] && [ -d "$pycriu_dir/pycriu" ]; then
	{
		echo "shim:"
		echo "  trace_dir: $TMP/traces-py"
		echo "hooks:"
		for cb in pre-dump post-dump pre-restore post-restore; do
			echo "  $cb:"
			echo "    - shell: 'echo $cb >>$TMP/marks'"
		done
	} | write_config "$TMP/py.yaml"
	export CRPC_CONFIG=$TMP/py.yaml
	# pycriu_client.py OP PID DIR: one DUMP or RESTORE request through pycriu's own
	# transport; prints the reply's type and the restored PID.
	cat >"$TMP/pycriu_client.py" <<'EOF'
import os
import sys

import pycriu

shim, op, pid, imgdir = sys.argv[1:5]
c = pycriu.criu()
c.use_binary(shim)
req = pycriu.rpc.criu_req()
req.type = pycriu.rpc.DUMP if op == "dump" else pycriu.rpc.RESTORE
req.opts.images_dir_fd = os.open(imgdir, os.O_DIRECTORY)
req.opts.log_file = op + ".log"
req.opts.log_level = 4
if op == "dump":
    req.opts.pid = int(pid)
resp = c._send_req_and_recv_resp(req)
if not resp.success:
    sys.exit("%s failed: type %d errno %d %s" % (op, resp.type, resp.cr_errno, resp.cr_errmsg))
print(pycriu.rpc.criu_req_type.Name(resp.type), resp.restore.pid if op == "restore" else "")
EOF
	pid=$(start_counter py)
	wait_for '[ "$(counter py)" -ge 3 ]' 10 || fail "counter py does not count"
	mkdir -m 700 "$TMP/py-img"
	: >"$TMP/marks"
	expect_exit 0 env PYTHONPATH="$pycriu_dir" /usr/bin/python3 "$TMP/pycriu_client.py" "$SHIM" dump "$pid" "$TMP/py-img"
	[ "$OUT" = "DUMP " ] || fail "pycriu dump through the shim: reply '$OUT', expected a DUMP reply"
	wait_gone "$pid" 5 || fail "PID $pid still exists after pycriu's dump"
	wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
	at_dump=$(counter py)
	expect_exit 0 env PYTHONPATH="$pycriu_dir" /usr/bin/python3 "$TMP/pycriu_client.py" "$SHIM" restore 0 "$TMP/py-img"
	[ "$OUT" = "RESTORE $pid" ] || fail "pycriu restore through the shim: reply '$OUT', expected 'RESTORE $pid'"
	track "$pid"
	wait_for "[ \"\$(counter py)\" -gt $at_dump ]" 10 || fail "the counter restored by pycriu does not move"
	py_marks=$(<"$TMP/marks")
	hooks_ran_as "pycriu client" "$py_marks" $'pre-dump\npost-dump\npre-restore\npost-restore'
	kill -KILL "$pid"
	wait_gone "$pid" 5 || fail "restored PID $pid does not go away"
else
	fail "pycriu not found beside the distribution's CRIU: run scripts/setup --with-test-criu"
fi

# --- a pre-dump hook that refuses --------------------------------------------
{
	echo "shim:"
	echo "  trace_dir: $TMP/traces"
	echo "hooks:"
	echo "  pre-dump:"
	echo "    - name: app-quiesce"
	echo "      shell: 'echo app refuses to quiesce >&2; exit 7'"
	echo "  post-dump:"
	echo "    - shell: 'echo post-dump >>$TMP/marks'"
} | write_config "$TMP/refuse.yaml"
: >"$TMP/marks"
export CRPC_CONFIG=$TMP/refuse.yaml
expect_exit 1 runc_ --criu "$SHIM" checkpoint --image-path "$TMP/img2" --work-path "$TMP/work2" "$ID"
# runc 1.1.5 prints neither cr_errmsg nor CRIU's output (CRIU's stdio is
# /dev/null under `runc checkpoint`), only the CRIU log file it used: the
# shim ends that file with the reason (runc >= 1.2 quotes such lines).
[[ $ERR =~ log\ file:\ ([^\"[:space:]]+) ]] || fail "runc's error output names no CRIU log file: $ERR"
log=${BASH_REMATCH[1]}
[ "$log" = "$TMP/work2/dump.log" ] || fail "runc names the log $log, expected $TMP/work2/dump.log"
last=$(tail -n 1 "$log")
for s in "Error (crpc shim)" "pre-dump" "app-quiesce" "app refuses to quiesce"; do
	assert_contains "$last" "$s" "the last line of the CRIU log runc names"
done
[ ! -s "$TMP/marks" ] || fail "post-dump ran after a refused pre-dump: $(cat "$TMP/marks")"
[ "$(state)" = running ] || fail "the container is not running after the refused checkpoint: '$(state)'"
keeps_counting 5 || fail "the counter stopped after the refused checkpoint (at $(count))"

runc_ delete -f "$ID" || fail "runc delete -f failed"
