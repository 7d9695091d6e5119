# bench/hosts.sh - two "hosts" for a benchmark on one machine: network
# namespaces joined by a veth pair, $hosts_net.1 and $hosts_net.2, each with
# a real sshd that takes a key made for the run, so mpirun --hostfile can
# start its daemons in both.  Sourced by bench/allreduce --hosts; needs
# root, iproute2 and openssh-server/-client.
#
#   hosts_setup DIR   makes the hosts (keys and configs in DIR); prints why
#                     and returns 1 when it cannot (the teardown still runs)
#   hosts_teardown    kills every process left in the namespaces (sshd,
#                     ranks of a failed run: all started by the benchmark)
#                     and deletes them with their veth pair; safe twice
#   on_host K CMD...  runs CMD in host K (0 or 1): its network and host name
#   hosts_ssh         the ssh command line that reaches both (after setup)
#
# The hosts share the file system and /dev/shm; each has its own network
# and host name (sshd runs in a UTS namespace of its own): the network is
# apart, which is what a benchmark of the network needs.
# shellcheck shell=sh

hosts_net=10.236.18
hosts_ns0=ltah0-$$ hosts_ns1=ltah1-$$
hosts_if0=lah0$$ hosts_if1=lah1$$
hosts_made=0 hosts_ssh=

on_host() {
	hosts_k=$(cat "$hosts_dir/sshd$1.pid") || return 1
	shift
	nsenter -t "$hosts_k" --net --uts "$@"
}

hosts_teardown() {
	[ "$hosts_made" = 1 ] || return 0
	for hosts_k in $hosts_ns0 $hosts_ns1; do
		ip netns pids "$hosts_k" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	for hosts_k in $hosts_ns0 $hosts_ns1; do
		ip netns del "$hosts_k" 2>/dev/null
	done
	ip link del "$hosts_if0" 2>/dev/null
	hosts_made=0
}

hosts_setup() {
	hosts_dir=$1
	[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; return 1; }
	command -v ip >/dev/null || { echo "needs iproute2"; return 1; }
	if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null; then
		echo "needs openssh-server and openssh-client"
		return 1
	fi
	mkdir -p "$hosts_dir" /run/sshd || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$hosts_dir/id" &&
		ssh-keygen -q -t ed25519 -N '' -f "$hosts_dir/host" &&
		cp "$hosts_dir/id.pub" "$hosts_dir/authorized_keys" || return 1
	hosts_made=1
	ip netns add "$hosts_ns0" && ip netns add "$hosts_ns1" &&
		ip link add "$hosts_if0" type veth peer name "$hosts_if1" &&
		ip link set "$hosts_if0" netns "$hosts_ns0" &&
		ip link set "$hosts_if1" netns "$hosts_ns1" || return 1
	for hosts_h in 0 1; do
		hosts_k=$hosts_ns0 hosts_i=$hosts_if0
		[ "$hosts_h" = 1 ] && hosts_k=$hosts_ns1 hosts_i=$hosts_if1
		hosts_a=$hosts_net.$((hosts_h + 1))
		ip -n "$hosts_k" addr add "$hosts_a/24" dev "$hosts_i" &&
			ip -n "$hosts_k" link set "$hosts_i" up &&
			ip -n "$hosts_k" link set lo up || return 1
		cat >"$hosts_dir/sshd$hosts_h.conf" <<-EOF
		ListenAddress $hosts_a
		HostKey $hosts_dir/host
		PidFile $hosts_dir/sshd$hosts_h.pid
		AuthorizedKeysFile $hosts_dir/authorized_keys
		StrictModes no
		UsePAM no
		PermitRootLogin prohibit-password
		PasswordAuthentication no
		MaxStartups 100
		EOF
		# a host name of its own (a UTS namespace), as two machines have:
		# Open MPI takes ranks of one host name for one node
		ip netns exec "$hosts_k" unshare --uts sh -c \
			"hostname lthost$hosts_h-$$ && exec /usr/sbin/sshd -f '$hosts_dir/sshd$hosts_h.conf'" ||
			return 1
	done
	hosts_ssh="ssh -i $hosts_dir/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
	for hosts_h in 0 1; do
		hosts_w=0
		# shellcheck disable=SC2086
		until on_host 0 $hosts_ssh -o BatchMode=yes "$hosts_net.$((hosts_h + 1))" true 2>/dev/null; do
			hosts_w=$((hosts_w + 1))
			[ $hosts_w -gt 50 ] && { echo "sshd on $hosts_net.$((hosts_h + 1)) does not answer"; return 1; }
			sleep 0.1
		done
	done
}
