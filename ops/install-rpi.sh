#!/usr/bin/env bash
# Install mmtrio as a systemd service on Raspberry Pi OS 64-bit (Debian bookworm, aarch64).
#
#   sudo ops/install-rpi.sh            # from a checkout of mmtrio
#   sudo ops/install-rpi.sh --instance btcusdt BTCUSDT 9464   # one bot of a fleet (below)
#   sudo ops/install-rpi.sh --instance ethusdt ETHUSDT 9465
#
# What it does (idempotent: running it again upgrades the code and keeps config and state):
#   - installs python3-venv (and build tools for wheels without an aarch64 build),
#   - creates the system user "mmtrio" (no login shell, no home),
#   - copies the project to /opt/mmtrio and builds a venv at /opt/mmtrio/venv,
#   - creates /etc/mmtrio (config.toml from the shipped paper-trading default, never
#     overwritten) and /etc/mmtrio/credentials (root-only, for LoadCredential),
#   - installs ops/mmtrio.service and the template ops/mmtrio@.service and reloads systemd. It
#     does NOT start or enable anything: check the config first (docs/OPERATOR.md).
# With --instance NAME SYMBOL PORT (after the base install): writes /etc/mmtrio/NAME.toml (the
# paper-trading default for SYMBOL, bot name NAME, metrics on PORT, JSON logs) unless it exists,
# and /etc/mmtrio/credentials/NAME/ (root only); run it with `systemctl enable --now
# mmtrio@NAME`. Each instance has its own state in /var/lib/mmtrio/NAME.
#
# State: both units set MMTRIO_STATE_ROOT=/var/lib/mmtrio and the configs written here leave
# [runtime] state_dir unset, so each bot's state directory is /var/lib/mmtrio/<bot name>
# (journal, lock, control.sock, KILL); the default config's bot is "binance-paper".
set -euo pipefail

PREFIX=/opt/mmtrio
ETC=/etc/mmtrio
UNIT=/etc/systemd/system/mmtrio.service
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "install-rpi: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (sudo $0)"

# The config rewrites, as functions so tests/unit/test_ops.py runs exactly these lines.
default_config() {  # SHIPPED_CONFIG PREFIX: the checkout's config.toml for the service
    # Recordings from the installed tree, JSON logs. The state directory is left to the unit's
    # MMTRIO_STATE_ROOT: /var/lib/mmtrio/<bot name>.
    sed -e "s#\"data/binance-usdm/#\"$2/src-tree/data/binance-usdm/#g" \
        -e 's#^json = false#json = true#' \
        "$1"
}

instance_config() {  # INIT_CONFIG NAME SYMBOL PORT DATA: `mmtrio init`'s file for one bot
    local conf
    conf="$(sed -e "s#^\# symbol = \"BTCUSDT\" #symbol = \"$3\" #" \
        -e "s#^\# name = \"binance-paper\" #name = \"$2\" #" \
        -e "s#^port = 9464 #port = $4 #" \
        -e 's#^json = false#json = true#' \
        "$1")"
    if [[ "$3" != "BTCUSDT" && -f "$5" ]]; then
        # The packaged sample recording is BTCUSDT: replay this symbol's own recording.
        conf="$(sed -e "s#^\# data_files = \[[^]]*\] #data_files = [\"$5\"] #" \
            <<<"$conf")"
    fi
    printf '%s\n' "$conf"
}

placeholder_credentials() {  # LoadCredential= needs the files to exist, even for paper trading
    local dir="$1"
    install -d -m 0700 -o root -g root "$dir"
    for f in api_key api_secret telegram_token; do
        [[ -f "$dir/$f" ]] || install -m 0600 -o root -g root /dev/null "$dir/$f"
    done
}

if [[ "${1:-}" == "--instance" ]]; then
    name="${2:-}"; symbol="${3:-}"; port="${4:-}"
    [[ "$name" =~ ^[a-z0-9][a-z0-9_.-]{0,62}$ ]] || \
        die "--instance NAME SYMBOL PORT: NAME in lower case letters, digits, _ . - (got '$name')"
    [[ "$symbol" =~ ^[A-Z0-9]+$ ]] || die "--instance NAME SYMBOL PORT: SYMBOL like BTCUSDT"
    [[ "$port" =~ ^[0-9]+$ ]] || die "--instance NAME SYMBOL PORT: PORT a free port, e.g. 9465"
    [[ -x "$PREFIX/venv/bin/mmtrio" ]] || die "run the base install first: sudo $0"
    conf="$ETC/$name.toml"
    if [[ -f "$conf" ]]; then
        echo "    kept existing $conf"
    else
        tmp="$(mktemp -d)"
        "$PREFIX/venv/bin/mmtrio" init "$tmp" >/dev/null
        lower="$(echo "$symbol" | tr 'A-Z' 'a-z')"
        data="$PREFIX/src-tree/data/binance-usdm/${lower}_20240808.gz"
        instance_config "$tmp/config.toml" "$name" "$symbol" "$port" "$data" > "$conf"
        rm -rf "$tmp"
        chmod 0644 "$conf"
        echo "    wrote $conf (paper trading, bot $name, $symbol, metrics on 127.0.0.1:$port," \
            "state in /var/lib/mmtrio/$name)"
    fi
    "$PREFIX/venv/bin/mmtrio" config check "$conf" || \
        echo "    WARNING: $conf does not pass 'mmtrio config check'; fix it before starting"
    placeholder_credentials "$ETC/credentials/$name"
    echo "==> next: sudo systemctl enable --now mmtrio@$name; journalctl -u mmtrio@$name -f"
    exit 0
fi
[[ -f "$SRC/pyproject.toml" && -f "$SRC/ops/mmtrio.service" ]] || die "run from an mmtrio checkout"
arch="$(uname -m)"
[[ "$arch" == "aarch64" || "$arch" == "x86_64" ]] || \
    die "64-bit OS required (found $arch); install Raspberry Pi OS 64-bit"
command -v systemctl >/dev/null || die "systemd not found"

echo "==> packages"
apt-get update -q
apt-get install -y -q python3 python3-venv python3-dev build-essential rsync

py_ok="$(python3 -c 'import sys; print(sys.version_info >= (3, 11))')"
[[ "$py_ok" == "True" ]] || die "Python >= 3.11 required (bookworm ships 3.11)"

echo "==> user"
if ! id mmtrio >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /var/lib/mmtrio \
        --shell /usr/sbin/nologin mmtrio
fi

echo "==> code in $PREFIX"
install -d -m 0755 "$PREFIX"
rsync -a --delete --exclude '.venv' --exclude 'venv' --exclude '.git' --exclude 'state' \
    --exclude '__pycache__' "$SRC/" "$PREFIX/src-tree/"
if [[ ! -x "$PREFIX/venv/bin/python" ]]; then
    python3 -m venv "$PREFIX/venv"
fi
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q "$PREFIX/src-tree"
install -d -m 0755 "$PREFIX/docs"
install -m 0644 "$SRC/docs/OPERATOR.md" "$PREFIX/docs/OPERATOR.md"
"$PREFIX/venv/bin/mmtrio" --help >/dev/null || die "the installed mmtrio does not run"

echo "==> configuration in $ETC"
install -d -m 0755 "$ETC"
install -d -m 0700 -o root -g root "$ETC/credentials"
if [[ ! -f "$ETC/config.toml" ]]; then
    # The shipped default is paper trading on the built-in simulator, recordings from the
    # installed tree; the unit's MMTRIO_STATE_ROOT puts its state in /var/lib/mmtrio/<bot>.
    default_config "$SRC/config.toml" "$PREFIX" > "$ETC/config.toml"
    chmod 0644 "$ETC/config.toml"
    echo "    wrote $ETC/config.toml (paper trading, state in /var/lib/mmtrio/binance-paper);" \
        "edit it, then: mmtrio config check"
else
    echo "    kept existing $ETC/config.toml"
fi
legacy=/var/lib/mmtrio/.local/state/mmtrio  # where earlier installs' units put the state
if [[ -d "$legacy" ]]; then
    echo "    NOTE: $legacy holds state of an earlier install; the units now keep each bot's"
    echo "    state in /var/lib/mmtrio/<bot>. Stop the bot, then: sudo mv $legacy/<bot> /var/lib/mmtrio/"
fi
"$PREFIX/venv/bin/mmtrio" config check "$ETC/config.toml" || \
    echo "    WARNING: $ETC/config.toml does not pass 'mmtrio config check'; fix it before starting"

echo "==> systemd unit"
install -m 0644 "$SRC/ops/mmtrio.service" "$UNIT"
install -m 0644 "$SRC/ops/mmtrio@.service" /etc/systemd/system/mmtrio@.service
if [[ ! -f "$ETC/credentials/api_key" ]]; then
    # LoadCredential needs the files to exist even for paper trading: empty placeholders.
    install -m 0600 -o root -g root /dev/null "$ETC/credentials/api_key"
    install -m 0600 -o root -g root /dev/null "$ETC/credentials/api_secret"
fi
systemctl daemon-reload
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$UNIT" || echo "    WARNING: systemd-analyze reports problems (above)"
fi

cat <<MSG
==> done. Next (docs/OPERATOR.md):
    sudoedit $ETC/config.toml          # venue, symbol, limits
    sudo systemctl enable --now mmtrio
    journalctl -u mmtrio -f            # JSON logs
    systemctl status mmtrio            # STATUS line from the bot
  or several bots, one per symbol (docs/OPERATOR.md, "Several bots on one box"):
    sudo $0 --instance btcusdt BTCUSDT 9464 && sudo systemctl enable --now mmtrio@btcusdt
MSG
