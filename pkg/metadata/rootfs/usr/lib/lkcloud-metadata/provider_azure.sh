# Azure: IMDS (header "Metadata: true") for the name, user data (base64) and SSH keys, then the
# Ready report to the WireServer that a VM without the Azure agent must send itself.
AZURE_API=2021-01-01
WIRESERVER_VERSION=2012-11-30
AZURE_TRIES=6 # Azure reboots a VM that never reports Ready: 5 retries, 1 s doubling (31 s in all)

# azure_try PERSIST METHOD URL [CURL OPTION...]: the body on stdout. Asked again while the server
# answers 429 or 5xx (IMDS throttles and may be starting; so may the WireServer) and, with PERSIST
# "yes" (the machine is on Azure), while the connection fails; a machine where nothing answers
# the first IMDS request is not kept waiting.
azure_try() {
	local persist=$1 method=$2 url=$3 delay=1 try=1 code status
	shift 3
	while :; do
		status=$(curl -s --noproxy '*' --connect-timeout "$CONNECT_TIMEOUT" --max-time "$MAX_TIME" \
			-X "$method" -o "$WORK/azure.out" -w '%{http_code}' "$@" "$url")
		code=$?
		case "$code:$status" in
		0:2??) cat "$WORK/azure.out"; return 0 ;;
		0:429 | 0:5??) code=22 ;;
		0:*) return 22 ;;
		*) [ "$persist" = yes ] || return "$code" ;;
		esac
		[ "$try" -ge "$AZURE_TRIES" ] && return "$code"
		sleep "$delay"
		try=$((try + 1))
		delay=$((delay * 2))
	done
}

# azure_get ITEM FORMAT [PERSIST]: an IMDS compute item
azure_get() {
	azure_try "${3:-yes}" GET "$AZURE_URL/metadata/instance/compute/$1?api-version=$AZURE_API&format=$2" \
		-H "Metadata: true"
}

# xml_value TAG: the text of the first <TAG> element of the XML on stdin
xml_value() {
	tr -d '\r\n' | sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" | head -n 1
}

azure_ready() {
	local goal container instance incarnation
	goal=$(azure_try yes GET "$WIRESERVER_URL/machine?comp=goalstate" -H "x-ms-version: $WIRESERVER_VERSION") ||
		{ say "azure: no goal state from the WireServer"; return 1; }
	container=$(echo "$goal" | xml_value ContainerId)
	instance=$(echo "$goal" | xml_value InstanceId)
	incarnation=$(echo "$goal" | xml_value Incarnation)
	if [ -z "$container" ] || [ -z "$instance" ]; then
		say "azure: the goal state has no ContainerId or InstanceId"
		return 1
	fi
	cat > "$WORK/health.xml" <<-XML
		<?xml version="1.0" encoding="utf-8"?>
		<Health xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
		  <GoalStateIncarnation>${incarnation:-1}</GoalStateIncarnation>
		  <Container>
		    <ContainerId>$container</ContainerId>
		    <RoleInstanceList>
		      <Role>
		        <InstanceId>$instance</InstanceId>
		        <Health>
		          <State>Ready</State>
		        </Health>
		      </Role>
		    </RoleInstanceList>
		  </Container>
		</Health>
	XML
	if azure_try yes POST "$WIRESERVER_URL/machine?comp=health" -H "x-ms-version: $WIRESERVER_VERSION" \
		-H "x-ms-agent-name: lkcloud" -H "Content-Type: text/xml;charset=utf-8" \
		--data-binary "@$WORK/health.xml" > /dev/null; then
		say "azure: reported Ready (instance $instance)"
	else
		say "azure: the WireServer refused the Ready report"
	fi
}

probe_azure() {
	local code
	azure_get name text no > "$WORK/hostname"
	code=$?
	if [ "$code" != 0 ]; then
		say "azure: $(why "$code")"
		return 1
	fi
	echo Azure > "$WORK/provider"
	azure_get userData text | base64 -d > "$WORK/userdata" 2>/dev/null
	nonempty "$WORK/userdata" || say "azure: no user data"
	azure_get publicKeys json | jq -r '.[]?.keyData // empty' > "$WORK/ssh_keys" 2>/dev/null
	nonempty "$WORK/ssh_keys"
	azure_ready
	return 0
}
