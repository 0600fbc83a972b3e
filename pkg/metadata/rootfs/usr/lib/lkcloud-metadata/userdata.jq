# LinuxKit user data (read with --slurp) -> one line per entry for lkcloud-metadata, parents first:
#   D<TAB>mode<TAB>path               a directory
#   F<TAB>mode<TAB>path<TAB>base64    a file and its content
#   E<TAB>path as JSON<TAB>reason     an entry that is skipped
# Names with "/", control characters, leading or trailing blanks, "." or ".." are skipped, so each
# name is one exact path under /run/config. A perm is permission bits only ("0644", "755"): no
# setuid, setgid or sticky bit from user data.
def skip($path; $reason): "E\t\($path | @json)\t\($reason)";
def bad_name: . == "" or . == "." or . == ".." or contains("/") or (explode | any(. < 32 or . == 127))
  or test("^\\s|\\s$");
def mode($default): (.perm // "") as $p | if $p == "" then $default else $p end;
def entries($prefix):
  def entry($path):
    if type != "object" then skip($path; "an entry must be an object with \"content\" or \"entries\"")
    elif has("content") and has("entries") then skip($path; "has both \"content\" and \"entries\"")
    elif (has("content") or has("entries")) | not then skip($path; "has neither \"content\" nor \"entries\"")
    elif (.perm // "" | type) != "string" or (.perm // "" | test("^(0?[0-7]{3})?$") | not) then
      skip($path; "perm \(.perm | tojson) is not an octal mode such as \"0644\"")
    elif has("content") then
      if (.content | type) != "string" then skip($path; "content must be a string")
      else "F\t\(mode("0644"))\t\($path)\t\(.content | @base64)" end
    elif (.entries | type) != "object" then skip($path; "entries must be an object")
    else "D\t\(mode("0755"))\t\($path)", (.entries | entries($path + "/")) end;
  to_entries | sort_by(.key)[] | ($prefix + .key) as $path |
  if .key | bad_name then skip($path; "not a valid file name") else .value | entry($path) end;
if length != 1 then skip(""; "expected one JSON document, found \(length)")
elif .[0] | type != "object" then skip(""; "the top level must be a JSON object")
else .[0] | entries("") end
