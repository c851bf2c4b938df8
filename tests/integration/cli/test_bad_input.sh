#!/bin/bash
# Bad input: each case gives a clear message and the right exit code, and
# leaves nothing behind (no files or directories, no processes, the target
# untouched).
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

# What exists under $TMP (names and kinds), except what changes by itself
# (counters) and the files this script keeps its state in. Builtins only:
# starting programs is slow on small machines and this runs twice a case.
snapshot() {
	local f name
	local -a all
	shopt -s globstar dotglob nullglob
	all=("$TMP"/**)
	shopt -u globstar dotglob nullglob
	for f in "${all[@]}"; do
		name=${f##*/}
		case "$name" in
		out | err | snap.* | *.count | *.count.tmp[01] | *.count.new | "") continue ;;
		esac
		if [ -L "$f" ]; then
			echo "$f l"
		elif [ -d "$f" ]; then
			echo "$f d"
		else
			echo "$f f"
		fi
	done
}

JSON_N=0

# check_json_docs: every --json output saved by bad() is one JSON document
# with ok false, the exit code in error.exit_code and an error.message
check_json_docs() {
	/usr/bin/python3 -c '
import json, sys
tmp = sys.argv[1]
bad = []
for line in open(tmp + "/snap.json-cases"):
    n, code, what = line.rstrip("\n").split("\t", 2)
    text = open("%s/snap.json.%s" % (tmp, n)).read()
    try:
        d = json.loads(text)  # exactly one document
    except ValueError as e:
        bad.append("%s: not one JSON document (%s): %r" % (what, e, text[:300]))
        continue
    e = d.get("error") if isinstance(d, dict) else None
    if not isinstance(e, dict) or d.get("ok") is not False or e.get("exit_code") != int(code) \
            or not e.get("message"):
        bad.append("%s: want ok false, error.exit_code %s, error.message: %r" % (what, code, text[:300]))
print("\n".join(bad))
sys.exit(1 if bad else 0)
' "$TMP" >"$TMP/snap.json-bad" || fail "--json output: $(cat "$TMP/snap.json-bad")"
	note "$JSON_N --json error documents checked"
}

# the target: a counter that must go on through every refused dump
tpid=$(start_counter t)
track "$tpid"
SNAP_BEFORE=$(snapshot)

assert_target_fine() {
	local s v
	s=$(proc_state "$tpid")
	[[ $s == [RSD] ]] || fail "$1: the target is in state '$s'"
	v=$(counter t)
	wait_for "[ \"\$(counter t)\" -gt $v ]" 3 || fail "$1: the target stopped counting"
}

# assert_nothing_left WHAT: no new or removed files under $TMP, no process
# of ours besides the tracked ones, no crpc check directory
assert_nothing_left() {
	local p after
	after=$(snapshot)
	if [ "$after" != "$SNAP_BEFORE" ]; then
		fail "$1 left changes behind: $(diff <(echo "$SNAP_BEFORE") <(echo "$after"))"
	fi
	for p in $(stray_pids); do
		fail "$1 left a process behind: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
	done
}

# bad WHAT CODE MESSAGE CMD...: CMD exits CODE, stderr says MESSAGE,
# nothing is left behind, and with --json the same failure is one JSON
# document whose error carries the exit code.
bad() {
	local what=$1 code=$2 msg=$3
	shift 3
	expect_exit "$code" "$@"
	[ -n "$ERR" ] || fail "$what: no message on stderr"
	assert_contains "$ERR" "$msg" "$what: stderr"
	case " $* " in
	*" version "*) [ -z "$OUT" ] || [[ $OUT == "crpc "[0-9]* ]] || fail "$what: printed on stdout: $OUT" ;;
	*) [ -z "$OUT" ] || fail "$what: printed on stdout: $OUT" ;;
	esac
	assert_nothing_left "$what"
	# the same with --json (given right after the program name, where it
	# is a global option), when crpc is run directly or through env
	local -a jcmd=()
	local a seen=
	for a in "$@"; do
		jcmd+=("$a")
		if [ -z "$seen" ] && [ "$a" = "$CRPC_BIN" ]; then
			jcmd+=(--json)
			seen=1
		fi
	done
	if [ -n "$seen" ] && { [ "$1" = "$CRPC_BIN" ] || [ "$1" = env ]; }; then
		expect_exit "$code" "${jcmd[@]}"
		# checked all at once at the end (python starts slowly)
		JSON_N=$((JSON_N + 1))
		printf '%s' "$OUT" >"$TMP/snap.json.$JSON_N"
		printf '%s\t%s\t%s\n' "$JSON_N" "$code" "$what" >>"$TMP/snap.json-cases"
		assert_nothing_left "$what --json"
	fi
	note "ok: $what: ${ERR%%$'\n'*}"
}

# --- dump: the process ---------------------------------------------------------------
pid_max=$(cat /proc/sys/kernel/pid_max)
nopid=$((pid_max - 1))
while [ -e "/proc/$nopid" ]; do nopid=$((nopid - 1)); done
bad "dump of a nonexistent PID" 1 "no process with PID $nopid" "$CRPC_BIN" dump "$nopid" "$TMP/d"
bad "dump of PID 1" 1 "PID 1" "$CRPC_BIN" dump 1 "$TMP/d"
# shellcheck disable=SC2016
bad "dump of crpc's own PID" 1 "crpc itself" bash -c 'exec "$0" dump $$ "$1"' "$CRPC_BIN" "$TMP/d"
bad "dump of an ancestor of crpc" 1 "ancestor" "$CRPC_BIN" dump $$ "$TMP/d"
# two kernel threads (kthreadd and another), told by their flag
if kt1=$(kernel_thread) && kt2=$(kernel_thread "$kt1"); then
	bad "dump of kernel thread $kt1" 1 "kernel thread" "$CRPC_BIN" dump "$kt1" "$TMP/d"
	bad "dump of kernel thread $kt2" 1 "kernel thread" "$CRPC_BIN" dump "$kt2" "$TMP/d"
else
	note "no kernel thread visible here (a PID namespace of its own): kernel-thread dumps not tried"
fi

# a zombie: its parent execs sleep and never reaps it
setsid bash -c 'sleep 0 & echo $! >"$0"; exec sleep 1000' "$TMP/zombie.pid" </dev/null >/dev/null 2>&1 &
track $!
wait_for "[ -s '$TMP/zombie.pid' ]" 5 || fail "zombie maker did not start"
zpid=$(cat "$TMP/zombie.pid")
track "$zpid"
wait_for "[ \"\$(proc_state $zpid)\" = Z ]" 5 || fail "PID $zpid did not become a zombie"
SNAP_BEFORE=$(snapshot)
bad "dump of a zombie" 1 "zombie" "$CRPC_BIN" dump "$zpid" "$TMP/d"

# a thread ID instead of the process ID
/usr/bin/python3 -c '
import sys, threading, time
threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
open(sys.argv[1], "w").write("up")
time.sleep(1000)
' "$TMP/threads.up" </dev/null >/dev/null 2>&1 &
ppid_=$!
track "$ppid_"
wait_for "[ -s '$TMP/threads.up' ]" 10 || fail "threaded process did not start"
tid=
for t in /proc/"$ppid_"/task/*; do
	[ "${t##*/}" != "$ppid_" ] && tid=${t##*/} && break
done
[ -n "$tid" ] || fail "no thread in PID $ppid_"
SNAP_BEFORE=$(snapshot)
bad "dump of a thread ID" 2 "thread of process $ppid_" "$CRPC_BIN" dump "$tid" "$TMP/d"

# --- dump: the PID argument ----------------------------------------------------------
for p in -5 0 "" 1.5 99999999999; do
	bad "dump with PID '$p'" 2 "invalid PID" "$CRPC_BIN" dump -- "$p" "$TMP/d"
done
# a name is a container's, looked up at the engines installed
bad "dump of a container name nobody has" 2 "'abc-$$': no container" "$CRPC_BIN" dump -- "abc-$$" "$TMP/d"
bad "dump of an unknown engine's container" 2 "unknown engine 'lxc'" "$CRPC_BIN" dump -- "lxc:abc" "$TMP/d"

# --- dump: DIR -------------------------------------------------------------------------
mkdir "$TMP/ro"
mount -t tmpfs -o ro,size=64k tmpfs "$TMP/ro"
SNAP_BEFORE=$(snapshot)
bad "dump into a read-only DIR" 1 "cannot write into $TMP/ro" "$CRPC_BIN" dump "$tpid" "$TMP/ro"
bad "dump into a DIR that cannot be created" 1 "cannot create $TMP/ro/sub" "$CRPC_BIN" dump "$tpid" "$TMP/ro/sub"
assert_target_fine "dumps into a read-only DIR"
umount "$TMP/ro"
rmdir "$TMP/ro"

echo "not a directory" >"$TMP/file"
SNAP_BEFORE=$(snapshot)
bad "dump into a DIR that is a file" 2 "not a directory" "$CRPC_BIN" dump "$tpid" "$TMP/file"
bad "dump into a DIR under a file" 2 "not a directory" "$CRPC_BIN" dump "$tpid" "$TMP/file/sub"
bad "dump into a DIR whose parent is missing" 2 "does not exist" "$CRPC_BIN" dump "$tpid" "$TMP/no/such/dir"
[ "$(cat "$TMP/file")" = "not a directory" ] || fail "the file given as DIR was changed"
assert_target_fine "dumps into bad DIRs"

# --- usage errors ------------------------------------------------------------------------
bad "unknown long option" 2 "unknown option '--bogus'" "$CRPC_BIN" dump --bogus "$tpid" "$TMP/d"
bad "unknown short option" 2 "unknown option '-Z'" "$CRPC_BIN" dump -Z "$tpid" "$TMP/d"
bad "unknown restore option" 2 "unknown option '--bogus'" "$CRPC_BIN" restore --bogus "$TMP/d"
bad "unknown check option" 2 "unknown option '--bogus'" "$CRPC_BIN" check --bogus
bad "unknown global option" 2 "unknown option '--bogus'" "$CRPC_BIN" --bogus check
bad "unknown command" 2 "unknown command 'frobnicate'" "$CRPC_BIN" frobnicate
bad "no command" 2 "missing COMMAND" "$CRPC_BIN"
bad "dump without arguments" 2 "missing PID and DIR" "$CRPC_BIN" dump
bad "dump without DIR" 2 "missing DIR" "$CRPC_BIN" dump "$tpid"
bad "dump with an extra argument" 2 "unexpected argument 'extra'" "$CRPC_BIN" dump "$tpid" "$TMP/d" extra
bad "dump with an empty DIR" 2 "DIR must not be empty" "$CRPC_BIN" dump "$tpid" ""
bad "restore without DIR" 2 "missing DIR" "$CRPC_BIN" restore
bad "restore with an extra argument" 2 "unexpected argument" "$CRPC_BIN" restore "$TMP/d" extra
bad "check with an argument" 2 "unexpected argument" "$CRPC_BIN" check extra
bad "option without its value" 2 "requires an argument" "$CRPC_BIN" restore "$TMP/d" --pid-wait
bad "--pid-wait abc" 2 "invalid --pid-wait" "$CRPC_BIN" restore --pid-wait abc "$TMP/d"
bad "--pid-wait -1" 2 "invalid --pid-wait" "$CRPC_BIN" restore --pid-wait -1 "$TMP/d"
bad "--log-level 9" 2 "log-level" "$CRPC_BIN" dump --log-level 9 "$tpid" "$TMP/d"
bad "--ghost-limit 10X" 2 "ghost-limit" "$CRPC_BIN" dump --ghost-limit 10X "$tpid" "$TMP/d"
bad "--network-lock bogus" 2 "network-lock" "$CRPC_BIN" dump --network-lock bogus "$tpid" "$TMP/d"
bad "--manage-cgroups=bogus" 2 "manage-cgroups" "$CRPC_BIN" dump --manage-cgroups=bogus "$tpid" "$TMP/d"
bad "--leave-running=yes" 2 "does not take an argument" "$CRPC_BIN" dump --leave-running=yes "$tpid" "$TMP/d"
assert_target_fine "usage errors"

# --- the CRIU binary -----------------------------------------------------------------------
printf '#!/bin/sh\nexec true\n' >"$TMP/criu-noexec"
chmod 0644 "$TMP/criu-noexec"
SNAP_BEFORE=$(snapshot)
bad "check with --criu missing" 3 "$TMP/no-criu" "$CRPC_BIN" check --criu "$TMP/no-criu"
bad "check with --criu not executable" 3 "$TMP/criu-noexec" "$CRPC_BIN" check --criu "$TMP/criu-noexec"
bad "check with CRPC_CRIU missing" 3 "$TMP/no-criu" env CRPC_CRIU="$TMP/no-criu" "$CRPC_BIN" check
bad "version with --criu missing" 3 "$TMP/no-criu" "$CRPC_BIN" version --criu "$TMP/no-criu"
bad "features with CRPC_CRIU not executable" 3 "$TMP/criu-noexec" env CRPC_CRIU="$TMP/criu-noexec" "$CRPC_BIN" features
bad "dump with --criu missing" 3 "$TMP/no-criu" "$CRPC_BIN" dump --criu "$TMP/no-criu" "$tpid" "$TMP/d"
bad "dump with --criu not executable" 3 "$TMP/criu-noexec" "$CRPC_BIN" dump --criu "$TMP/criu-noexec" "$tpid" "$TMP/d"
bad "dump with CRPC_CRIU missing" 3 "$TMP/no-criu" env CRPC_CRIU="$TMP/no-criu" "$CRPC_BIN" dump "$tpid" "$TMP/d"
bad "--criu is a directory" 3 "$TMP" "$CRPC_BIN" version --criu "$TMP"
# an executable that is not CRIU: no working CRIU
printf '#!/bin/sh\n# %s\nexit 0\n' "$TMP" >"$TMP/criu-fake"
chmod 0755 "$TMP/criu-fake"
SNAP_BEFORE=$(snapshot)
bad "--criu is not CRIU" 3 "$TMP/criu-fake" "$CRPC_BIN" version --criu "$TMP/criu-fake"
bad "dump with --criu not CRIU" 3 "$TMP/criu-fake" "$CRPC_BIN" dump --criu "$TMP/criu-fake" "$tpid" "$TMP/d"
# an executable the kernel cannot run (its interpreter is missing): CRIU cannot be started
printf '#!%s/no-interpreter\n' "$TMP" >"$TMP/criu-badinterp"
chmod 0755 "$TMP/criu-badinterp"
SNAP_BEFORE=$(snapshot)
bad "--criu cannot be executed" 3 "cannot execute $TMP/criu-badinterp" "$CRPC_BIN" version --criu "$TMP/criu-badinterp"
bad "dump with --criu that cannot be executed" 3 "cannot execute $TMP/criu-badinterp" \
	"$CRPC_BIN" dump --criu "$TMP/criu-badinterp" "$tpid" "$TMP/d"
assert_target_fine "dumps with a bad CRIU"

# --- restore: DIR ---------------------------------------------------------------------------
mkdir "$TMP/empty"
mkdir "$TMP/garbage"
head -c 512 /dev/urandom >"$TMP/garbage/inventory.img"
echo "this is not a CRIU image" >"$TMP/garbage/pstree.img"
mkdir "$TMP/short"
printf 'ab' >"$TMP/short/inventory.img"
printf 'ab' >"$TMP/short/pstree.img"
SNAP_BEFORE=$(snapshot)
bad "restore from a missing DIR" 1 "does not exist" "$CRPC_BIN" restore "$TMP/no-such-dir"
bad "restore from a file" 2 "not a directory" "$CRPC_BIN" restore "$TMP/file"
bad "restore from an empty DIR" 1 "no checkpoint" "$CRPC_BIN" restore "$TMP/empty"
bad "restore from garbage images" 1 "not a CRIU image" "$CRPC_BIN" restore "$TMP/garbage"
bad "restore from truncated images" 1 "inventory.img" "$CRPC_BIN" restore "$TMP/short"

# --- DIR holding a checkpoint: refused without --force ---------------------------------------
expect_exit 0 "$CRPC_BIN" dump --leave-running "$tpid" "$TMP/ckpt"
fp() { (cd "$TMP/ckpt" && find . -printf '%p %s\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
fp >"$TMP/snap.fp1"
SNAP_BEFORE=$(snapshot)
bad "dump into a DIR holding a checkpoint" 1 "already holds a checkpoint" "$CRPC_BIN" dump --leave-running "$tpid" "$TMP/ckpt"
assert_contains "$ERR" "--force" "hint"
fp >"$TMP/snap.fp2"
diff "$TMP/snap.fp1" "$TMP/snap.fp2" >/dev/null || fail "the refused dump changed the checkpoint"
assert_target_fine "refused dump over a checkpoint"

# a copy with pstree.img missing is not a checkpoint
mkdir "$TMP/half"
cp "$TMP/ckpt/inventory.img" "$TMP/half/"
SNAP_BEFORE=$(snapshot)
bad "restore without pstree.img" 1 "pstree.img is missing" "$CRPC_BIN" restore "$TMP/half"
# an interrupted dump (marker present) is refused by restore and by dump
cp -a "$TMP/ckpt" "$TMP/unfinished"
echo "crpc dump" >"$TMP/unfinished/.crpc-dump-in-progress"
SNAP_BEFORE=$(snapshot)
bad "restore from an unfinished dump" 1 "did not complete" "$CRPC_BIN" restore "$TMP/unfinished"
bad "dump into an unfinished dump" 1 "unfinished dump" "$CRPC_BIN" dump --leave-running "$tpid" "$TMP/unfinished"

# with --force the old checkpoint is replaced
sleep 0.05
expect_exit 0 "$CRPC_BIN" dump --leave-running --force "$tpid" "$TMP/ckpt"
fp >"$TMP/snap.fp3"
! diff "$TMP/snap.fp1" "$TMP/snap.fp3" >/dev/null || fail "dump --force did not write a new checkpoint"
[ ! -e "$TMP/ckpt/.crpc-dump-in-progress" ] || fail "dump --force left the in-progress marker"
[ -s "$TMP/ckpt/inventory.img" ] && [ -s "$TMP/ckpt/pstree.img" ] || fail "dump --force: images missing"
expect_exit 0 "$CRPC_BIN" dump --leave-running --force "$tpid" "$TMP/unfinished"
[ ! -e "$TMP/unfinished/.crpc-dump-in-progress" ] || fail "dump --force over an unfinished dump left the marker"
assert_target_fine "dumps with --force"

check_json_docs
