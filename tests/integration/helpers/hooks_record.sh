#!/bin/bash
# hooks_record.sh LOG CALLBACK: append one line to LOG naming the callback
# this step was configured for and every hook environment variable, as
# NAME=value, or NAME! when unset. Used as a run: step by test_hooks_*.
log=$1
line=$2
for v in CRTOOLS_SCRIPT_ACTION CRTOOLS_IMAGE_DIR CRTOOLS_INIT_PID CRPC_ACTION \
	CRPC_OPERATION CRPC_PID CRPC_IMAGES_DIR CRPC_NOTIFY_PID; do
	if [ -n "${!v+set}" ]; then line+=" $v=${!v}"; else line+=" $v!"; fi
done
echo "$line" >>"$log"
