# Sourced by scripts that fetch from Debian's archive without touching the
# machine's apt state: a private APT configuration under $DX_CACHE/apt that
# reuses the mirror of the machine's own sources.
#   private_apt_init deb-src bookworm   # TYPE SUITE..., then
#   private_apt source --download-only fio=3.33-3
# DX_CACHE defaults to ${XDG_CACHE_HOME:-~/.cache}/daxrdma.

DX_CACHE=${DX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/daxrdma}
_papt_root=$DX_CACHE/apt
_papt_opts=()

private_apt_init() { # TYPE SUITE...
	local type=$1 mirror suite keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	shift
	mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' |
		grep -v -- '-security/' | grep -m1 '/debian/\?$') || {
		echo "private-apt: no Debian mirror in this machine's apt sources" >&2
		return 1
	}
	mkdir -p "$_papt_root"/{lists/partial,cache/archives/partial,sources.list.d,preferences.d}
	: >"$_papt_root/sources.list"
	for suite in "$@"; do
		echo "$type [signed-by=$keyring] $mirror $suite main" >>"$_papt_root/sources.list"
	done
	_papt_opts=(
		-o "Dir::Etc::SourceList=$_papt_root/sources.list"
		-o "Dir::Etc::SourceParts=$_papt_root/sources.list.d"
		-o "Dir::Etc::PreferencesParts=$_papt_root/preferences.d"
		-o "Dir::State::Lists=$_papt_root/lists"
		-o "Dir::Cache=$_papt_root/cache"
		-o "Debug::NoLocking=1"
		-o "APT::Sandbox::User=root"
	)
	apt-get "${_papt_opts[@]}" -q update >&2
}

private_apt() { # apt-get arguments
	apt-get "${_papt_opts[@]}" "$@"
}

# private_apt_unpack DIR PACKAGE...: download PACKAGEs (from the suites given
# to private_apt_init) and unpack them with dpkg-deb -x, never installing,
# into DIR, which appears whole or not at all. The caller checks what it got
# and then marks DIR complete with DIR/.daxrdma-fetched.
private_apt_unpack() {
	local dir=$1 work d
	shift
	work=$(mktemp -d "$DX_CACHE/unpack.XXXXXX")
	mkdir -p "$work/debs" "$work/root"
	(cd "$work/debs" && private_apt download -q "$@" >&2) || { rm -rf "$work"; return 1; }
	for d in "$work"/debs/*.deb; do
		dpkg-deb -x "$d" "$work/root" || { rm -rf "$work"; return 1; }
	done
	rm -rf "$dir"
	mv "$work/root" "$dir"
	rm -rf "$work"
}
