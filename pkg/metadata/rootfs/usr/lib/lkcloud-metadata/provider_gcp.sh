# GCP: the metadata server (metadata.google.internal) answers only with "Metadata-Flavor: Google".

gcp_get() {
	http GET "$GCP_URL/computeMetadata/v1/$1" -H "Metadata-Flavor: Google"
}

probe_gcp() {
	local code
	gcp_get instance/hostname > "$WORK/hostname"
	code=$?
	if [ "$code" != 0 ]; then
		say "gcp: $(why "$code")"
		return 1
	fi
	echo GCP > "$WORK/provider"
	# ssh-keys lines are "user:key"; like LinuxKit, every key goes to root's authorized_keys.
	{
		gcp_get instance/attributes/ssh-keys
		echo
		gcp_get project/attributes/ssh-keys
	} 2>/dev/null | sed -n 's/^[^:]*:\(.\)/\1/p' > "$WORK/ssh_keys"
	nonempty "$WORK/ssh_keys"
	gcp_get instance/attributes/user-data > "$WORK/userdata" || say "gcp: no user data"
	return 0
}
