#!/bin/bash
# shell_loop.sh DIR: a shell loop (a new `sleep` child every 50 ms) with a
# long-lived child, `sleep 100000` started in the background. On SIGUSR1
# the loop checks that the child is alive and still its child, running the
# same command, and that its iteration count went up since the last check;
# result in DIR/shell_loop.result, "ok iterations N".
dir=$1
[ -n "$dir" ] || { echo "usage: shell_loop.sh DIR" >&2; exit 2; }
# only what the loop opens itself: no fd of whoever started it (but the
# script's own, 255)
for fd in "/proc/$$/fd/"*; do
	fd=${fd##*/}
	if [ "$fd" -gt 2 ] && [ "$fd" != 255 ]; then
		eval "exec $fd>&-"
	fi
done
sleep 100000 &
child=$!
i=0
last=0

result() {
	printf '%s\n' "$1" >"$dir/shell_loop.result.tmp" && mv "$dir/shell_loop.result.tmp" "$dir/shell_loop.result"
}

verify() {
	local line rest ppid cmd
	if ! { read -r line <"/proc/$child/stat"; } 2>/dev/null; then
		result "FAIL: the child $child is gone"
		return
	fi
	rest=${line##*) }
	read -r _ ppid _ <<<"$rest"
	if [ "$ppid" != $$ ]; then
		result "FAIL: the child $child has parent $ppid, not $$"
		return
	fi
	cmd=$(tr '\0' ' ' <"/proc/$child/cmdline")
	if [ "$cmd" != "sleep 100000 " ]; then
		result "FAIL: the child $child runs '$cmd'"
		return
	fi
	if [ "$i" -le "$last" ]; then
		result "FAIL: the loop did not go on: $i iterations, $last at the last check"
		return
	fi
	last=$i
	result "ok iterations $i child $child"
}
trap verify USR1

echo $$ >"$dir/shell_loop.ready.tmp" && mv "$dir/shell_loop.ready.tmp" "$dir/shell_loop.ready"
while :; do
	i=$((i + 1))
	sleep 0.05
done
