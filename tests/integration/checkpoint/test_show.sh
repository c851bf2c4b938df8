#!/bin/bash
# crpc show on a real checkpoint: a shell running `sleep | cat` with a file
# open. The process tree with each command name (from the core images),
# descriptors by type (fdinfo images; each process's count checked against
# /proc/PID/fd at dump time), memory pages (pagemap images, checked against
# the size of the pages images and CRIU's own pages-written count), the
# manifest, and --verify; and the errors for what is not a checkpoint.
# shellcheck disable=SC2015,SC2016 # A && B || fail; quoted code for other shells
. "$(dirname "$0")/../lib.sh"

setsid bash -c 'exec 3>"$0.data"; sleep 1000 | cat & wait' "$TMP/w" </dev/null >/dev/null 2>&1 &
root=$!
track "$root"
children() { cat /proc/"$root"/task/*/children 2>/dev/null || true; }
wait_for '[ "$(children | wc -w)" -eq 2 ]' 10 || fail "the workload did not start its two children"
kids=$(children)
# shellcheck disable=SC2086
track $kids
for p in $kids; do
	case $(cat "/proc/$p/comm") in
	sleep) sleep_pid=$p ;;
	cat) cat_pid=$p ;;
	esac
done
[ -n "${sleep_pid:-}" ] && [ -n "${cat_pid:-}" ] || fail "children are not sleep and cat: $kids"
# what the kernel says: descriptors, and how many are pipes (the workload
# may have inherited more than it opened itself)
nfd() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
npipe() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -lname 'pipe:*' | wc -l; }
# CRIU's regular-file entries: files and devices other than terminals (the
# workload has /dev/null and its data file; ctest may hand down more)
nreg() {
	local l n=0
	for l in /proc/"$1"/fd/*; do
		l=$(readlink "$l") || continue
		case $l in
		/dev/pts/* | /dev/tty* | /dev/ptmx | /dev/console) ;;
		/*) n=$((n + 1)) ;;
		esac
	done
	echo "$n"
}
fds_root=$(nfd "$root") fds_sleep=$(nfd "$sleep_pid") fds_cat=$(nfd "$cat_pid")
regs_root=$(nreg "$root") regs_sleep=$(nreg "$sleep_pid") regs_cat=$(nreg "$cat_pid")
pipes_root=$(npipe "$root") pipes_sleep=$(npipe "$sleep_pid") pipes_cat=$(npipe "$cat_pid")
[ "$pipes_sleep" -ge 1 ] && [ "$pipes_cat" -ge 1 ] || fail "sleep | cat without a pipe?"

expect_exit 0 "$CRPC_BIN" dump --leave-running "$root" "$TMP/ckpt"

# --- JSON ---------------------------------------------------------------------------
expect_exit 0 "$CRPC_BIN" show --json "$TMP/ckpt"
echo "$OUT" >"$TMP/show.json"
pages_bytes=$(find "$TMP/ckpt" -maxdepth 1 -name 'pages-*.img' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
nfiles=$(find "$TMP/ckpt" -maxdepth 1 -type f | wc -l)
json_assert "$TMP/show.json" --exit 0 \
	'd["operation"] == "show" and d["complete"] is True and d["unfinished"] is False' \
	"d['images_dir'] == '$TMP/ckpt'" \
	"d['manifest']['pid'] == $root and d['manifest']['format'] == 'crpc-checkpoint'" \
	"len(d['manifest']['files']) == $nfiles - 1 == d['image_files'] - 1" \
	'len(d["processes"]) == 3' \
	"d['processes'][0]['pid'] == $root and d['processes'][0]['comm'] == 'bash'" \
	"sorted((p['pid'], p['comm'], p['ppid']) for p in d['processes'][1:]) == sorted([($sleep_pid, 'sleep', $root), ($cat_pid, 'cat', $root)])" \
	'all(p["threads"][0]["tid"] == p["pid"] and p["threads"][0]["comm"] == p["comm"] for p in d["processes"])' \
	"{p['pid']: p['fds']['total'] for p in d['processes']} == {$root: $fds_root, $sleep_pid: $fds_sleep, $cat_pid: $fds_cat}" \
	"{p['pid']: p['fds']['by_type'].get('pipe', 0) for p in d['processes']} == {$root: $pipes_root, $sleep_pid: $pipes_sleep, $cat_pid: $pipes_cat}" \
	"{p['pid']: p['fds']['by_type'].get('reg', 0) for p in d['processes']} == {$root: $regs_root, $sleep_pid: $regs_sleep, $cat_pid: $regs_cat}" \
	"min(p['fds']['by_type'].get('reg', 0) for p in d['processes']) >= 3" \
	"d['fds']['tables'] == 3 and d['fds']['by_type']['pipe'] == $((pipes_root + pipes_sleep + pipes_cat))" \
	'd["fds"]["total"] == sum(p["fds"]["total"] for p in d["processes"])' \
	'd["files"]["total"] >= 4 and d["files"]["by_type"]["pipe"] >= 2' \
	'all(p["memory"]["present_pages"] > 0 for p in d["processes"])' \
	'd["memory"]["present_pages"] == sum(p["memory"]["present_pages"] for p in d["processes"])' \
	"d['memory']['present_bytes'] == d['memory']['pages_files_bytes'] == $pages_bytes" \
	'd["memory"]["present_bytes"] == d["memory"]["present_pages"] * d["memory"]["page_size"]' \
	'd["stats"]["pages_written"] == d["memory"]["present_pages"]' \
	'd["warnings"] == []' || fail "show --json: wrong description of the checkpoint"

# --- for humans ---------------------------------------------------------------------
expect_exit 0 "$CRPC_BIN" show "$TMP/ckpt"
note "show:"$'\n'"$OUT"
assert_contains "$OUT" "Checkpoint $TMP/ckpt" "show"
assert_contains "$OUT" "status:        complete (crpc.json, format 2, blake3 digests)" "show"
assert_contains "$OUT" "target:        PID $root (bash), left running" "show"
assert_contains "$OUT" "leave_running=true (user)" "show"
assert_contains "$OUT" "Process tree (3 processes)" "show"
assert_contains "$OUT" "\\_ sleep" "show"
assert_contains "$OUT" "\\_ cat" "show"
[[ $OUT =~ $'\n'"  $root "[^$'\n']*" bash"$'\n' ]] || fail "show: no line for the root bash: $OUT"
assert_contains "$OUT" "Descriptors:" "show"
assert_contains "$OUT" "pipe $((pipes_root + pipes_sleep + pipes_cat))" "show"
assert_contains "$OUT" "in 3 fd tables" "show"
assert_contains "$OUT" "Memory:" "show"
assert_contains "$OUT" "Dump statistics:" "show"
expect_exit 0 "$CRPC_BIN" show --verify "$TMP/ckpt"
assert_contains "$OUT" "verified:      ok" "show --verify"
expect_exit 0 "$CRPC_BIN" show --verify --json "$TMP/ckpt"
echo "$OUT" >"$TMP/verify.json"
json_assert "$TMP/verify.json" --exit 0 'd["verify"]["ok"] is True and d["verify"]["files"] > 5' ||
	fail "show --verify --json"

# --- not a checkpoint -------------------------------------------------------------------
mkdir "$TMP/empty"
expect_exit 1 "$CRPC_BIN" show "$TMP/empty"
assert_contains "$ERR" "no checkpoint" "show of an empty DIR"
expect_exit 1 "$CRPC_BIN" show "$TMP/none"
assert_contains "$ERR" "does not exist" "show of a missing DIR"
expect_exit 2 "$CRPC_BIN" show "$TMP/w.data"
assert_contains "$ERR" "not a directory" "show of a file"
expect_exit 2 "$CRPC_BIN" show
assert_contains "$ERR" "missing DIR" "show without DIR"
