#!/bin/bash
# A CRIU action script as one would give to criu --action-script: it knows
# nothing of crpc, only CRIU's variables. $LOG comes from the step's env.
case "$CRTOOLS_SCRIPT_ACTION" in
pre-dump | post-dump)
	echo "$CRTOOLS_SCRIPT_ACTION $CRTOOLS_INIT_PID" >>"$LOG"
	;;
esac
exit 0
