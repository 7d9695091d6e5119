#!/bin/sh
# train.sh - the digits MLP on every host of a hostfile, from this one
# command: ltrun starts each host's agent over ssh, relays their output,
# and stops them all on ctrl-C or when one host fails.
#
#   examples/hostfile/train.sh [LTRUN_OPTIONS...]
#   HOSTS=my-hosts.txt examples/hostfile/train.sh --include node1@node3
#
# Needs: ssh to every host without a password (a key in ssh-agent or
# ~/.ssh; ltrun runs ssh with BatchMode=yes), and ltrun, the model and the
# data at the same paths on every host (a shared filesystem, or the same
# checkout), as mpirun does.  LTRUN_LAUNCHER_CMD='ssh -p 2222' changes the
# ssh command; LTRUN_EXPORT=NAME,... passes variables on.
#
# Environment: HOSTS (default: hosts.txt beside this script), LTRUN (the
# binary, default build/ltrun), MLP (the model, default beside LTRUN).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ltrun=${LTRUN:-$top/build/ltrun}
mlp=${MLP:-$(dirname "$ltrun")/examples/mlp/mlp.so}
exec "$ltrun" --hostfile "${HOSTS:-$here/hosts.txt}" --cpu-bind cores \
	--max-epochs 20 --lr 0.1 "$@" "$mlp"
