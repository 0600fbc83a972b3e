# From the work directory a provider filled to /run/config: facts, SSH keys, user data, hostname.

# apply_userdata FILE: /run/config/userdata (raw), then the tree of LinuxKit JSON user data
apply_userdata() {
	local tab kind a b c
	put_file "$CONFIG/userdata" 0644 < "$1"
	if ! jq -r -s -f "$LIB/userdata.jq" < "$1" > "$WORK/records" 2> "$WORK/jq.err"; then
		say "user data is not JSON ($(head -c 160 "$WORK/jq.err" | tr '\n' ' ')): kept as $CONFIG/userdata only"
		return 0
	fi
	tab=$(printf '\t')
	: > "$WORK/dirmodes"
	while IFS=$tab read -r kind a b c; do
		case "$kind" in
		D) { mkdir -p "$CONFIG/$b" && printf '%s\t%s\n' "$a" "$b" >> "$WORK/dirmodes"; } || say "user data: cannot create $b" ;;
		F) printf '%s' "$c" | base64 -d | put_file "$CONFIG/$b" "$a" || say "user data: cannot write $b" ;;
		E) say "user data: skipped $a: $b" ;;
		esac
	done < "$WORK/records"
	# Directory modes last and deepest first, so that a read-only directory still gets its files.
	# Split on the tab only: a path is taken exactly as the records give it.
	tac "$WORK/dirmodes" | while IFS=$tab read -r mode path; do
		[ -n "$path" ] && chmod "$mode" "$CONFIG/$path"
	done
	say "user data: $(grep -c '^[DF]' "$WORK/records") entries written, $(grep -c '^E' "$WORK/records") skipped"
}

install_config() {
	local fact
	printf '%s' "$(cat "$WORK/provider")" | put_file "$CONFIG/provider" 0644
	for fact in "$WORK"/files/*; do
		[ -f "$fact" ] && put_file "$CONFIG/${fact##*/}" 0644 < "$fact"
	done
	[ -s "$WORK/hostname" ] && put_file "$CONFIG/hostname" 0644 < "$WORK/hostname"
	if [ -s "$WORK/ssh_keys" ]; then
		mkdir -p "$CONFIG/ssh" && chmod 0755 "$CONFIG/ssh"
		put_file "$CONFIG/ssh/authorized_keys" 0600 < "$WORK/ssh_keys"
	fi
	[ -s "$WORK/userdata" ] && apply_userdata "$WORK/userdata"
	return 0
}

# The hostname from /run/config/hostname (the provider's, or the user data's when it has one).
set_hostname() {
	local name
	[ -f "$CONFIG/hostname" ] || return 0
	name=$(tr -d ' \t\r\n' < "$CONFIG/hostname" | head -c 64)
	[ -n "$name" ] || return 0
	if hostname "$name"; then say "hostname $name"; else say "cannot set the hostname to $name"; fi
}
