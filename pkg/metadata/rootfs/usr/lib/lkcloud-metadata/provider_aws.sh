# AWS: IMDSv2. A session token from PUT /latest/api/token, then GETs carrying it (works whether or
# not the instance requires tokens). Writes LinuxKit's AWS facts beside the hostname.
AWS_TOKEN_TTL=21600

aws_get() {
	http GET "$AWS_URL/latest/$1" -H "X-aws-ec2-metadata-token: $AWS_TOKEN"
}

probe_aws() {
	local code path name
	AWS_TOKEN=$(http PUT "$AWS_URL/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: $AWS_TOKEN_TTL")
	code=$?
	if [ "$code" != 0 ] || [ -z "$AWS_TOKEN" ]; then
		say "aws: no IMDSv2 token: $(why "$code")"
		return 1
	fi
	if ! aws_get meta-data/hostname > "$WORK/hostname"; then
		say "aws: token accepted but no hostname"
		return 1
	fi
	echo AWS > "$WORK/provider"
	# LinuxKit's file names for the other facts; each is optional.
	for path in public-ipv4:public_ipv4 local-ipv4:local_ipv4 \
		placement/availability-zone:availability_zone instance-type:instance_type \
		instance-id:instance_id local-hostname:local_hostname; do
		name=${path#*:}
		aws_get "meta-data/${path%%:*}" > "$WORK/files/$name" || rm -f "$WORK/files/$name"
	done
	aws_get meta-data/public-keys/0/openssh-key > "$WORK/ssh_keys" || rm -f "$WORK/ssh_keys"
	aws_get user-data > "$WORK/userdata" || say "aws: no user data"
	say "aws: instance $(cat "$WORK/files/instance_id" 2>/dev/null)"
	return 0
}
