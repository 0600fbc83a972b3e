# Network for the metadata servers. When nothing configured an address yet (no dhcpcd before this
# container), ask DHCP once on each Ethernet interface, with short timeouts.

has_address() {
	ip -o -4 addr show 2>/dev/null | grep -v ' lo ' | grep -q inet
}

net_up() {
	local dev name
	has_address && return 0
	for dev in /sys/class/net/*; do
		name=${dev##*/}
		[ "$name" = lo ] || [ ! -e "$dev/device" ] && continue
		ip link set "$name" up
		udhcpc -i "$name" -f -q -n -t 3 -T 1 -s "$LIB/udhcpc.script" > /tmp/dhcp.log 2>&1 ||
			say "$name: no DHCP lease: $(tail -n 1 /tmp/dhcp.log)"
	done
	has_address && say "network: $(ip -o -4 addr show | grep -v ' lo ' | awk '{print $2, $4}' | tr '\n' ' ')"
	return 0
}
