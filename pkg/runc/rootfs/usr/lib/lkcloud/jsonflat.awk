# Flatten JSON (on stdin) to one "path<TAB>value" line per scalar, for shell scripts:
# {"mounts":[{"type":"tmpfs"}]} -> "mounts.0.type<TAB>tmpfs". Strings are unescaped;
# \uXXXX escapes become "?" (runtime.json paths and options are ASCII).
BEGIN { RS = "\001" }
{ s = $0; n = length(s); i = 1; value("") }

function skip() { while (i <= n && index(" \t\r\n", substr(s, i, 1))) i++ }

function str(    c, out) {
	i++
	out = ""
	while (i <= n) {
		c = substr(s, i, 1)
		if (c == "\"") { i++; return out }
		if (c == "\\") {
			i++
			c = substr(s, i, 1)
			if (c == "n") c = "\n"
			else if (c == "t") c = "\t"
			else if (c == "u") { c = "?"; i += 4 }
		}
		out = out c
		i++
	}
	return out
}

function join(path, key) { return path == "" ? key : path "." key }

function value(path,    c, key, idx, start) {
	skip()
	c = substr(s, i, 1)
	if (c == "{") {
		i++
		skip()
		if (substr(s, i, 1) == "}") { i++; return }
		while (i <= n) {
			skip()
			key = str()
			skip()
			i++
			value(join(path, key))
			skip()
			c = substr(s, i, 1)
			i++
			if (c == "}") return
		}
		return
	}
	if (c == "[") {
		i++
		skip()
		if (substr(s, i, 1) == "]") { i++; return }
		idx = 0
		while (i <= n) {
			value(join(path, idx))
			idx++
			skip()
			c = substr(s, i, 1)
			i++
			if (c == "]") return
		}
		return
	}
	if (c == "\"") { print path "\t" str(); return }
	start = i
	while (i <= n && !index(",}] \t\r\n", substr(s, i, 1))) i++
	print path "\t" substr(s, start, i - start)
}
