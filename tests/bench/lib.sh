# shellcheck shell=bash
# tests/bench/lib.sh - what the benchmark scripts of tests/bench/ share:
# their argument parsing, the CRIU they run, their clock and their figures
# (median, milliseconds) and the ABBA loop of the container benchmarks.
# Sourced by each script first; it then sets its own defaults, defines
# usage() and calls bench_args.

readonly PROG=${0##*/}

# The workloads keep only their stdio, as a process started from a terminal
# does: a descriptor inherited from whatever started the benchmark (a pipe
# of the caller's shell) would be dumped with them, and crpc would re-attach
# it at restore, work CRIU's CLI does not do. Bash reads the script on 255.
for _fd in /proc/$$/fd/*; do
	_fd=${_fd##*/}
	if ((_fd > 2 && _fd != 255)); then eval "exec $_fd>&-"; fi
done
unset _fd

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly SRC
# the defaults of --crpc, --criu, --keep and --raw
# shellcheck disable=SC2034 # read by the scripts
CRPC=$SRC/build/crpc
CRIU=${CRPC_CRIU:-}
KEEP=0
# shellcheck disable=SC2034 # read by the scripts
RAW=

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# bench_args 'OPT VAR OPT VAR=VALUE ...' ARGS...: parse the script's ARGS.
# OPT VAR sets VAR to the argument after OPT; OPT VAR=VALUE (a flag) sets
# VAR to VALUE. -h/--help prints usage() and exits 0; anything else is a
# usage error (exit 2).
bench_args() {
	local -a spec
	local i known
	read -ra spec <<<"${1//$'\n'/ }"
	shift
	while (($#)); do
		case $1 in -h | --help) usage; exit 0 ;; esac
		known=0
		for ((i = 0; i < ${#spec[@]}; i += 2)); do
			[[ $1 == "${spec[i]}" ]] || continue
			known=1
			if [[ ${spec[i + 1]} == *=* ]]; then
				printf -v "${spec[i + 1]%%=*}" '%s' "${spec[i + 1]#*=}"
			else
				[[ -n ${2:-} ]] || { printf '%s: %s needs a value\n' "$PROG" "$1" >&2; exit 1; }
				printf -v "${spec[i + 1]}" '%s' "$2"
				shift
			fi
			break
		done
		((known)) || { printf '%s: unknown argument: %s\n' "$PROG" "$1" >&2; usage >&2; exit 2; }
		shift
	done
}

# positive VALUE WHAT / number VALUE WHAT: die unless VALUE is one.
positive() { [[ $1 =~ ^[1-9][0-9]*$ ]] || die "$2 must be a positive number"; }
number() { [[ $1 =~ ^[0-9]+$ ]] || die "$2 must be a number"; }

need_root() { ((EUID == 0)) || { printf '%s: must be run as root\n' "$PROG" >&2; exit 3; }; }

# need_criu: CRIU, if empty the one /etc/crpc/criu-path names, must be executable.
need_criu() {
	if [[ -z $CRIU ]]; then
		[[ -r /etc/crpc/criu-path ]] || die "no CRIU: give --criu or run scripts/setup"
		CRIU=$(</etc/crpc/criu-path)
	fi
	[[ -x $CRIU ]] || die "CRIU $CRIU is not executable"
}

now_us() { echo "${EPOCHREALTIME//[.,]/}"; }
# The median of the numbers on stdin, one a line.
median() {
	sort -n | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.15g\n", m }'
}
# Microseconds as milliseconds with one decimal.
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# drop_work WORDS: remove $WORK, or with --keep print "WORDS $WORK".
drop_work() {
	if ((KEEP)); then
		printf '%s %s\n' "$1" "$WORK"
	else
		rm -rf -- "$WORK"
	fi
}

# rm_cgroup PATH: remove the cgroup PATH (below /sys/fs/cgroup/*) and its children.
rm_cgroup() {
	local d
	for d in /sys/fs/cgroup/*/"${1#/}"; do
		[[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
}

# The runc container of a benchmark: $RUNC with its state in $RUNC_ROOT,
# the bundle $BUNDLE (a busybox counter, in cgroup $CG).
make_bundle() { "$SRC/tests/helpers/make-busybox-bundle" --cgroups-path "$CG" "$BUNDLE" >/dev/null; }
# runc_start NAME: run the bundle as container NAME, detached.
runc_start() {
	(cd "$BUNDLE" && "$RUNC" --root "$RUNC_ROOT" --log "$WORK/run.log" run -d "$1" \
		</dev/null >/dev/null 2>&1) || die "runc run failed: $(cat "$WORK/run.log")"
}
runc_running() { [[ $("$RUNC" --root "$RUNC_ROOT" state "$1" 2>/dev/null) == *'"status": "running"'* ]]; }
# runc_checkpoint CRIU NAME DIR WHAT / runc_restore CRIU NAME DIR WHAT: runc
# with that CRIU, the images in DIR/img, its output in DIR.out; a failure
# ends the benchmark with "WHAT failed".
runc_checkpoint() {
	"$RUNC" --root "$RUNC_ROOT" --criu "$1" checkpoint --image-path "$3/img" --work-path "$3/work" "$2" \
		>"$3.out" 2>&1 || die "$4 failed: $(cat "$3.out")"
}
runc_restore() {
	"$RUNC" --root "$RUNC_ROOT" --criu "$1" restore -d --image-path "$3/img" --work-path "$3/work" \
		--bundle "$BUNDLE" "$2" </dev/null >"$3.out" 2>&1 || die "$4 failed: $(cat "$3.out")"
}

# warmup A B: WARMUP untimed cycles of each side first.
warmup() {
	local i
	for ((i = 1; i <= WARMUP; i++)); do
		cycle "$1" "w$i" >/dev/null
		cycle "$2" "w$i" >/dev/null
	done
}

# abba DIR A B [EACH]: RUNS runs of `cycle SIDE RUN` (which prints the
# checkpoint's, the restore's and the total microseconds, and optionally
# CRIU's freezing time of the dump) for side A and B, A first on odd runs
# and B first on even ones (ABBA), each cycle printed as a row. Every total
# goes to DIR/A.times or DIR/B.times, the ratio A/B of each run to
# DIR/ratios; with freezing times, each total without it to DIR/A.net or
# DIR/B.net, their ratio to DIR/ratios.net and the freezing time to
# DIR/A.freezing or DIR/B.freezing. EACH SIDE TOTAL is called after each
# cycle.
abba() {
	local dir=$1 a=$2 b=$3 each=${4:-} i side order c r t f ta tb na nb
	: >"$dir/$a.times"
	: >"$dir/$b.times"
	: >"$dir/ratios"
	rm -f "$dir/$a.net" "$dir/$b.net" "$dir/ratios.net" "$dir/$a.freezing" "$dir/$b.freezing"
	for ((i = 1; i <= RUNS; i++)); do
		if ((i % 2)); then order="$a $b"; else order="$b $a"; fi
		na='' nb=''
		for side in $order; do
			read -r c r t f < <(cycle "$side" "$i")
			if [[ -n $f ]]; then
				printf '%-4s %-7s %9s ms %9s ms %9s ms %9s ms\n' "$i" "$side" "$(ms "$c")" "$(ms "$r")" \
					"$(ms "$t")" "$(ms "$f")"
				echo "$f" >>"$dir/$side.freezing"
				echo "$((t - f))" >>"$dir/$side.net"
				if [[ $side == "$a" ]]; then na=$((t - f)); else nb=$((t - f)); fi
			else
				printf '%-4s %-7s %9s ms %9s ms %9s ms\n' "$i" "$side" "$(ms "$c")" "$(ms "$r")" "$(ms "$t")"
			fi
			echo "$t" >>"$dir/$side.times"
			[[ -z $each ]] || "$each" "$side" "$t"
			if [[ $side == "$a" ]]; then ta=$t; else tb=$t; fi
		done
		awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.4f\n", a / b }' >>"$dir/ratios"
		if [[ -n $na && -n $nb ]]; then
			awk -v a="$na" -v b="$nb" 'BEGIN { printf "%.4f\n", a / b }' >>"$dir/ratios.net"
		fi
	done
}

# freezing_us IMAGES-DIR [STATS-DIR]: CRIU's freezing time (microseconds)
# of the dump in IMAGES-DIR, from its stats-dump (copied there from
# STATS-DIR, CRIU's work directory, when it is elsewhere), read with `crpc
# show --json`; nothing when it cannot be read.
freezing_us() {
	[[ -z ${2:-} ]] || cp "$2/stats-dump" "$1/" 2>/dev/null || return 0
	"$CRPC" show --json "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    print(int(json.load(sys.stdin)["stats"]["freezing_time_ms"] * 1000))
except Exception:
    pass'
}

# freezing_summary DIR A B: how often CRIU's freezer polled (its freezing
# took 90 ms or more: CRIU checks every 100 ms until the tree is frozen) on
# each side, and the medians and ratio without the freezing times.
freezing_summary() {
	local dir=$1 a=$2 b=$3 ma mb
	[[ -s $dir/$a.net && -s $dir/$b.net ]] || return 0
	printf "CRIU's freezer poll (freezing >= 90 ms): %s %s of %s dumps, %s %s of %s\n" \
		"$a" "$(awk '$1 >= 90000' "$dir/$a.freezing" | wc -l)" "$(wc -l <"$dir/$a.freezing")" \
		"$b" "$(awk '$1 >= 90000' "$dir/$b.freezing" | wc -l)" "$(wc -l <"$dir/$b.freezing")"
	ma=$(median <"$dir/$a.net")
	mb=$(median <"$dir/$b.net")
	printf "without CRIU's freezing time: median %s %s ms, %s %s ms, ratio of the medians %s, median of the per-run ratios %s\n" \
		"$a" "$(ms "$ma")" "$b" "$(ms "$mb")" "$(awk -v x="$ma" -v y="$mb" 'BEGIN { printf "%.3f", x / y }')" \
		"$(median <"$dir/ratios.net" | awk '{ printf "%.3f", $1 }')"
}
