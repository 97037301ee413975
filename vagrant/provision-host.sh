#!/bin/bash
# Provisions a lab host (wan, lan or dmz) of the fwctl Vagrant lab.
#
#   provision-host.sh NAME ADDR4 ADDR6/LEN GW4 GW6 [PREFIX...]
#
# Vagrant has already put ADDR4 on the host's lab interface.  This adds the
# IPv6 address and a route through the router (GW4/GW6) to each PREFIX, at
# every boot, and starts a small "who am I" service on TCP port 80 that
# answers with the address it sees the client as: that is how masquerade
# and port forwarding become visible from the client's side.
set -euo pipefail

if [ $# -lt 5 ]; then
	echo "usage: $0 NAME ADDR4 ADDR6/LEN GW4 GW6 [PREFIX...]" >&2
	exit 2
fi
name=$1 addr4=$2 addr6=$3 gw4=$4 gw6=$5
shift 5

# The interface that holds ADDR4: the name depends on the provider.
ifname=$(ip -o -4 addr show to "$addr4/32" | awk '{ print $2; exit }')
if [ -z "$ifname" ]; then
	echo "provision-host: no interface has $addr4" >&2
	exit 1
fi
echo "provision-host: $name: lab interface $ifname ($addr4, $addr6)"

export DEBIAN_FRONTEND=noninteractive
if ! command -v socat >/dev/null || ! command -v nc >/dev/null ||
    ! command -v curl >/dev/null; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends socat netcat-openbsd \
	    curl
fi

# The lab's addresses and routes, again at each boot.
{
	echo "#!/bin/sh"
	echo "# Written by fwctl's vagrant/provision-host.sh."
	echo "ip -6 addr replace $addr6 dev $ifname"
	for p in "$@"; do
		case $p in
		*:*)	echo "ip -6 route replace $p via $gw6 dev $ifname" ;;
		*)	echo "ip route replace $p via $gw4 dev $ifname" ;;
		esac
	done
} >/usr/local/sbin/fwctl-lab-net
chmod 0755 /usr/local/sbin/fwctl-lab-net

cat >/etc/systemd/system/fwctl-lab-net.service <<'EOF'
[Unit]
Description=fwctl lab: IPv6 address and routes through the router
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/fwctl-lab-net

[Install]
WantedBy=multi-user.target
EOF

# Answers any request on port 80 (HTTP or a bare connection) with one line.
cat >/usr/local/sbin/fwctl-lab-whoami <<EOF
#!/bin/bash
# Written by fwctl's vagrant/provision-host.sh; socat runs it per connection.
# Read the request's header, if any, for at most a second.
while IFS= read -r -t 1 line && [ -n "\${line%\$'\r'}" ]; do :; done
# socat gives an IPv6 peer as [0000:...:0001]: print it the short way.
peer=\${SOCAT_PEERADDR#[}
peer=\$(echo "\${peer%]}" | sed -E 's/(^|:)0{1,3}/\\1/g; s/(^|:)0(:0)+(:|\$)/::/')
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n'
printf '%s (%s) sees you as %s\n' "$name" "$addr4" "\$peer"
EOF
chmod 0755 /usr/local/sbin/fwctl-lab-whoami

# One listener per family, so that IPv4 peers read as dotted quads.
for fam in 4 6; do
	opts=reuseaddr,fork
	[ "$fam" = 6 ] && opts=ipv6only=1,$opts
	cat >"/etc/systemd/system/fwctl-lab-whoami$fam.service" <<EOF
[Unit]
Description=fwctl lab: tell IPv$fam clients on TCP port 80 who they are
After=network.target fwctl-lab-net.service

[Service]
ExecStart=/usr/bin/socat TCP$fam-LISTEN:80,$opts EXEC:/usr/local/sbin/fwctl-lab-whoami
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
EOF
done

units="fwctl-lab-net.service fwctl-lab-whoami4.service fwctl-lab-whoami6.service"
systemctl daemon-reload
# shellcheck disable=SC2086
systemctl enable $units
# restart, not start: a second provisioning run applies what changed.
# shellcheck disable=SC2086
systemctl restart $units
echo "provision-host: $name ready; from another host: curl -s http://$addr4/"
