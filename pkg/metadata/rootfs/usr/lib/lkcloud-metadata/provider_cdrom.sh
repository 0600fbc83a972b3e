# A config CD or disk: /dev/sr*, and any ISO9660 or FAT file system labelled cidata/CIDATA
# (lkcloud run qemu --data, linuxkit run --data, NoCloud). Reads user-data, else config.

cdrom_candidates() {
	{
		blkid 2>/dev/null | grep -E 'LABEL="(cidata|CIDATA)"' | cut -d: -f1
		ls /dev/sr[0-9]* 2>/dev/null
	} | awk '!seen[$0]++'
}

# cdrom_read DEVICE: its user data into the work directory
cdrom_read() {
	local mnt=/tmp/cdrom type file
	mkdir -p "$mnt"
	for type in iso9660 vfat; do
		mount -t "$type" -o ro "$1" "$mnt" 2>> /tmp/mount.err && break
		type=
	done
	if [ -z "$type" ]; then
		say "cdrom: cannot mount $1: $(tr "\n" " " < /tmp/mount.err)"
		return 1
	fi
	for file in user-data config; do
		if [ -s "$mnt/$file" ]; then
			cat "$mnt/$file" > "$WORK/userdata"
			break
		fi
	done
	umount "$mnt"
	[ -s "$WORK/userdata" ]
}

probe_cdrom() {
	local dev tries=0
	# The CD drive's driver may still be probing: give it a moment to show up.
	while [ -z "$(cdrom_candidates)" ] && [ "$tries" -lt 10 ]; do
		sleep 0.2
		tries=$((tries + 1))
	done
	for dev in $(cdrom_candidates); do
		if cdrom_read "$dev"; then
			echo "CDROM $dev" > "$WORK/provider"
			return 0
		fi
		say "cdrom: $dev has no user-data or config"
	done
	[ -n "$dev" ] || say "cdrom: no CD or cidata volume"
	return 1
}
