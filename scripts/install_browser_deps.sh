#!/usr/bin/env bash
# Best-effort install of what the browser test needs: Debian's Chromium and a
# local copy of MathJax 3 (the site loads MathJax from a CDN; the offline test
# serves this copy in its place). Without them the browser test is skipped
# with a reason, never failed.
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
if [ ! -f .cache/mathjax/node_modules/mathjax/es5/tex-mml-chtml.js ]; then
  if command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix .cache/mathjax mathjax@3 >/dev/null \
      || echo "warning: could not install mathjax; the browser test will be skipped"
  else
    echo "note: npm not found: the browser test will be skipped"
  fi
fi
exit 0
