# Shared by the metadata scripts: tools, settings from the kernel command line, HTTP, files.
/bin/busybox mkdir -p /tmp/bin && /bin/busybox --install -s /tmp/bin
PATH=/tmp/bin:/usr/bin:/bin
export PATH

CONFIG=/run/config
WORK=/tmp/metadata
CONNECT_TIMEOUT=2 # seconds: a machine without a metadata server must not wait long
MAX_TIME=5

say() { echo "metadata: $*"; }

# cmdline_value KEY DEFAULT: KEY=VALUE from the kernel command line, else DEFAULT
cmdline_value() {
	local word
	for word in $(cat /proc/cmdline 2>/dev/null); do
		case "$word" in "$1="*) echo "${word#*=}"; return ;; esac
	done
	echo "$2"
}

# Base URLs, overridable for tests and odd networks (metadata.google.internal is 169.254.169.254).
AWS_URL=$(cmdline_value lkcloud.metadata.aws http://169.254.169.254)
GCP_URL=$(cmdline_value lkcloud.metadata.gcp http://169.254.169.254)
AZURE_URL=$(cmdline_value lkcloud.metadata.azure http://169.254.169.254)
WIRESERVER_URL=$(cmdline_value lkcloud.metadata.wireserver http://168.63.129.16)

# why CURL_EXIT: a few words on why a request failed
why() {
	case "$1" in
	6 | 7) echo "no answer" ;;
	22) echo "refused (HTTP status >= 400)" ;;
	28) echo "timed out" ;;
	*) echo "curl exit code $1" ;;
	esac
}

# http METHOD URL [CURL OPTION...]: the body on stdout; fails without a 2xx answer
http() {
	local method=$1 url=$2
	shift 2
	curl -s -f --noproxy '*' --connect-timeout "$CONNECT_TIMEOUT" --max-time "$MAX_TIME" \
		-X "$method" "$@" "$url"
}

# put_file PATH MODE: stdin to PATH (through a temporary name) with MODE
put_file() {
	cat > "$1.new" && chmod "$2" "$1.new" && mv -f "$1.new" "$1"
}

# nonempty FILE: drop FILE when it is empty, and say whether it is left
nonempty() {
	[ -s "$1" ] && return 0
	rm -f "$1"
	return 1
}
