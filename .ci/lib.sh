# Helpers for the .ci/*-test scripts (sourced, not run).

# readme_block MARKER: the fenced code block that follows the line
# "<!-- ci:MARKER ... -->" in README.md, without its fences. The tests run the
# README's own recipes, so that the README and the tests cannot drift apart.
readme_block() {
	awk -v marker="<!-- ci:$1" '
		index($0, marker) == 1 { found = 1; next }
		found == 1 && /^```/ { found = 2; next }
		found == 2 && /^```/ { exit }
		found == 2 { print }
	' README.md
}

# say: a line of the test's log, with the time since the script started.
say() { printf '[%3ds] %s\n' "$SECONDS" "$*"; }

# apt_install PKG...: install Debian packages that are missing (CI runs as root).
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]} with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; }
}

# free_port FROM: the first TCP port from FROM on that nothing listens on at 127.0.0.1.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}

# Exit status of a test that could not run here (automake's convention): .ci/run
# reports it as skipped, never as passed.
SKIP=77
