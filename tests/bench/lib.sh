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
# checkpoint's, the restore's and the total microseconds) for side A and B,
# A first on odd runs and B first on even ones (ABBA), each cycle printed as
# a row. Every total goes to DIR/A.times or DIR/B.times, the ratio A/B of
# each run to DIR/ratios; EACH SIDE TOTAL is called after each cycle.
abba() {
	local dir=$1 a=$2 b=$3 each=${4:-} i side order c r t ta tb
	: >"$dir/$a.times"
	: >"$dir/$b.times"
	: >"$dir/ratios"
	for ((i = 1; i <= RUNS; i++)); do
		if ((i % 2)); then order="$a $b"; else order="$b $a"; fi
		for side in $order; do
			read -r c r t < <(cycle "$side" "$i")
			printf '%-4s %-7s %9s ms %9s ms %9s ms\n' "$i" "$side" "$(ms "$c")" "$(ms "$r")" "$(ms "$t")"
			echo "$t" >>"$dir/$side.times"
			[[ -z $each ]] || "$each" "$side" "$t"
			if [[ $side == "$a" ]]; then ta=$t; else tb=$t; fi
		done
		awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.4f\n", a / b }' >>"$dir/ratios"
	done
}
