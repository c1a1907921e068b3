#!/usr/bin/env bash
# Installs the tdekey .deb on this machine, uses it as an unprivileged user, checks that its
# files landed where the Debian policy expects them, runs lintian, and removes it again: no
# file may be left but the user's data. Run as root: `make package-test`.
set -euo pipefail
deb=${1:?usage: test-deb.sh tdekey_VERSION_ARCH.deb}
[ "$(id -u)" = 0 ] || { echo "test-deb.sh: run as root (it installs a package)"; exit 1; }
user=tdekey-pkgtest
fail() { echo "FAIL: $*"; exit 1; }

echo "== lintian"
lintian --fail-on error --suppress-tags no-manual-page "$deb" || fail "lintian reported errors"

echo "== dpkg -i"
dpkg -i "$deb" >/dev/null || { apt-get install -y -f -qq >/dev/null; dpkg -i "$deb" >/dev/null; }
for f in /usr/bin/tdekey \
    /usr/share/applications/io.github.tdekey.Tdekey.desktop \
    /usr/share/metainfo/io.github.tdekey.Tdekey.metainfo.xml \
    /usr/share/icons/hicolor/scalable/apps/io.github.tdekey.Tdekey.svg \
    /usr/share/icons/hicolor/256x256/apps/io.github.tdekey.Tdekey.png \
    /usr/share/icons/hicolor/48x48/apps/io.github.tdekey.Tdekey.png \
    /usr/share/man/man1/tdekey.1.gz \
    /usr/share/man/man1/tdekey-rotate.1.gz \
    /usr/share/bash-completion/completions/tdekey \
    /usr/share/zsh/vendor-completions/_tdekey \
    /usr/share/fish/vendor_completions.d/tdekey.fish \
    /usr/lib/systemd/system/tdekey-rotate.service \
    /usr/lib/systemd/system/tdekey-rotate.timer \
    /usr/lib/systemd/system/tdekey-forward.service \
    /usr/share/doc/tdekey/copyright; do
    [ -e "$f" ] || fail "$f is missing"
done
if command -v systemctl >/dev/null && systemctl is-enabled tdekey-rotate.timer >/dev/null 2>&1; then
    fail "the timer is enabled: it must be installed, not enabled"
fi

echo "== as an unprivileged user"
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
run() { su - "$user" -c "$*"; }
run "tdekey --version" | grep -q "^tdekey " || fail "tdekey --version"
run "tdekey hsm demo-token" | grep -q "demo token" || fail "tdekey hsm demo-token"
run "tdekey audit verify" | grep -q "chain intact" || fail "tdekey audit verify"
[ -d "$home/.local/share/tdekey" ] || fail "no data directory in the user's home"

echo "== dpkg -r"
dpkg -r tdekey >/dev/null
left=$(dpkg -L tdekey 2>/dev/null | grep -v '^/\.$' || true)
for f in /usr/bin/tdekey /usr/share/applications/io.github.tdekey.Tdekey.desktop \
    /usr/lib/systemd/system/tdekey-rotate.timer /usr/share/man/man1/tdekey.1.gz; do
    [ ! -e "$f" ] || fail "$f is still there after dpkg -r"
done
[ -d "$home/.local/share/tdekey" ] || fail "the user's data went with the package"
userdel -r "$user" 2>/dev/null || true
echo "OK: installed, used as $user, removed; only the user's data was left (and then removed with the user)"
