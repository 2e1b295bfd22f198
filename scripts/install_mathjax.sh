#!/usr/bin/env bash
# MathJax 3 from the npm registry into .cache/mathjax, for the book to serve
# itself (book/_ext/local_mathjax.py). Without npm the pages fall back to
# MathJax's CDN.
set -u
cd "$(dirname "$0")/.."
if [ -f .cache/mathjax/node_modules/mathjax/es5/tex-mml-chtml.js ]; then
  exit 0
fi
if command -v npm >/dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix .cache/mathjax mathjax@3 >/dev/null \
    || echo "warning: could not install mathjax; pages will load it from its CDN"
else
  echo "note: npm not found: pages will load MathJax from its CDN"
fi
exit 0
