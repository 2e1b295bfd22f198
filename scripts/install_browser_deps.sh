#!/usr/bin/env bash
# Best-effort install of what the browser and JavaScript tests need: Debian's
# Chromium and Node.js, and axe-core from npm. Without them the tests are
# skipped with a reason (under CI=true they fail).
set -u
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (Debian packages)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "warning: could not install chromium; the browser test will be skipped"
  else
    echo "note: chromium not found and not root: the browser test will be skipped"
  fi
fi

# node runs the widgets' maths tests (node --test tests/js/)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing nodejs and npm (Debian packages)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq nodejs npm >/dev/null) \
      || echo "warning: could not install nodejs; the JavaScript tests will be skipped"
  fi
fi

# axe-core, which the browser test injects to audit every page's accessibility
if [ ! -f .cache/axe/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix .cache/axe axe-core@4.14.1 >/dev/null \
    || echo "warning: could not install axe-core; the browser test will be skipped"
fi
exit 0
