#!/bin/bash
# Provisions the router of the fwctl Vagrant lab: builds and installs fwctl
# from the synced source tree, installs the example ruleset from rules/
# with the interface names of this machine, and runs fwctld under systemd.
#
#   provision-router.sh SRC SEGMENT ADDR4 ADDR6/LEN [SEGMENT ADDR4 ADDR6/LEN...]
#
# Vagrant has already put each ADDR4 on one interface.  The rules in rules/
# are written for the namespace lab, where the router's interfaces are
# named after their segment (wan0, lan0, dmz0); here they are eth1, ens6
# or whatever the provider gave, so each SEGMENT0 in the rule files becomes
# the name of the interface that holds that segment's ADDR4.
set -euo pipefail

usage() {
	echo "usage: $0 SRC SEGMENT ADDR4 ADDR6/LEN [SEGMENT ADDR4 ADDR6/LEN...]" >&2
	exit 2
}

if [ $# -lt 4 ] || [ $(($# % 3)) -ne 1 ]; then
	usage
fi
src=$1
shift
rulesdir=/etc/fwctl/rules.d

# Find each segment's interface; remember the renaming for the rule files.
renames=()
netlines=()
while [ $# -gt 0 ]; do
	seg=$1 addr4=$2 addr6=$3
	shift 3
	ifname=$(ip -o -4 addr show to "$addr4/32" | awk '{ print $2; exit }')
	if [ -z "$ifname" ]; then
		echo "provision-router: no interface has $addr4 ($seg)" >&2
		exit 1
	fi
	echo "provision-router: $seg: ${seg}0 in rules/ is $ifname here ($addr4, $addr6)"
	renames+=(-e "s/\\<${seg}0\\>/$ifname/g")
	netlines+=("ip -6 addr replace $addr6 dev $ifname")
done
mgmt=$(ip -o route show default | awk '{ print $5; exit }')

# IPv6 addresses at every boot (Vagrant configures IPv4 only).
{
	echo "#!/bin/sh"
	echo "# Written by fwctl's vagrant/provision-router.sh."
	printf '%s\n' "${netlines[@]}"
} >/usr/local/sbin/fwctl-lab-net
chmod 0755 /usr/local/sbin/fwctl-lab-net
cat >/etc/systemd/system/fwctl-lab-net.service <<'EOF'
[Unit]
Description=fwctl lab: IPv6 addresses of the router
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/fwctl-lab-net

[Install]
WantedBy=multi-user.target
EOF

# A router forwards; fwctld decides what.
cat >/etc/sysctl.d/90-fwctl-lab.conf <<'EOF'
# Written by fwctl's vagrant/provision-router.sh.
net.ipv4.ip_forward = 1
net.ipv6.conf.all.forwarding = 1
EOF
sysctl -q -p /etc/sysctl.d/90-fwctl-lab.conf

# Build and install.  The tree is rsynced from the host; build it as it is.
cd "$src"
tools/deps check
make clean >/dev/null
make
make install PREFIX=/usr/local

# The example ruleset, with this machine's interface names.  The first
# file keeps Vagrant's own SSH working: the management interface is not
# part of the lab, but a ruleset that drops "any -> self" would lock
# `vagrant ssh` out without it.
install -d -m 0755 "$rulesdir"
if [ -n "$mgmt" ]; then
	cat >"$rulesdir/00-vagrant.rules" <<EOF
# Written by fwctl's vagrant/provision-router.sh: Vagrant's management
# interface, so that \`vagrant ssh\` and \`vagrant provision\` keep working.
zone vagrant { interface $mgmt }
rule vagrant-ssh from vagrant to self tcp dport 22 accept
EOF
else
	echo "provision-router: no default route: no management interface to keep open" >&2
fi
for f in "$src"/rules/*.rules; do
	[ -e "$f" ] || continue
	sed "${renames[@]}" "$f" >"$rulesdir/$(basename "$f")"
done
# Refuse to go on with rules the daemon would refuse: show where they are wrong.
/usr/local/sbin/fwctld -n --rules-dir "$rulesdir"

# Who may use the CLI without sudo: the daemon's group.
getent group fwctl >/dev/null || groupadd --system fwctl
usermod -a -G fwctl vagrant

systemctl daemon-reload
systemctl enable --now fwctl-lab-net.service
if systemctl is-active --quiet fwctld.service; then
	# Running already: the daemon restores its last state on restart,
	# so make it read the rule files again instead (SIGHUP).
	systemctl reload fwctld.service
else
	systemctl enable --now fwctld.service
fi

# Wait for the daemon to answer (bounded), then show what it runs.
for _ in $(seq 1 50); do
	/usr/local/bin/fwctl status >/dev/null 2>&1 && break
	sleep 0.2
done
/usr/local/bin/fwctl status
/usr/local/bin/fwctl list
echo "provision-router: fwctld is running; see vagrant/README.md for what to try"
