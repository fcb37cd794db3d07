# Set-up and everyday commands. The README's two commands are `make run` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
SYSTEM_PACKAGES := xvfb xauth libgl1 libgl1-mesa-dri libegl1 libegl-mesa0 libglx-mesa0 \
	libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libfontconfig1 \
	libdbus-1-3 libusb-1.0-0 desktop-file-utils appstream

.PHONY: run test lint install install-test system-deps bench clean-venv dist app app-smoke

## run: install the app and start it on the demo corpus (built on first use, with progress)
run: install
	$(VENV)/bin/mer-viewer --demo

## test: install everything, test dependencies included, run the guards and the whole test suite
test: install-test lint
	$(PY) -m pytest

## lint: ruff, the layering contracts of pyproject.toml (core never imports Qt or the CLI)
## and mypy on mer_viewer/core (settings: [tool.mypy] in pyproject.toml)
lint: install-test
	$(VENV)/bin/ruff check mer_viewer tests packaging
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy mer_viewer/core

## bench: run the benchmarks (prints tables; not part of the test suite)
bench: install-test
	@for b in tests/benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## dist: build the wheel and the sdist into dist/ (version: mer_viewer/__init__.py)
dist: install-test
	$(PY) -m build --no-isolation --outdir dist .

## app: one-folder Linux app in dist/mer-viewer (PyInstaller, CPU torch), then its smoke test
app: system-deps $(VENV)/.installed-app
	$(PY) -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
		packaging/mer-viewer.spec
	ln -sf mer-viewer dist/mer-viewer/mer
	mkdir -p dist/mer-viewer/share/icons
	cp packaging/mer-viewer.desktop packaging/io.github.mer_viewer.metainfo.xml dist/mer-viewer/share/
	cp mer_viewer/resources/icons/* dist/mer-viewer/share/icons/
	$(MAKE) app-smoke

## app-smoke: start the built app under Xvfb on the demo corpus, screenshot, classify, time it
app-smoke:
	xvfb-run -a -s "-screen 0 1920x1080x24" $(PY) packaging/smoke_test.py dist/mer-viewer

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,cluster]'
	touch $@

$(VENV)/.installed-app: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[app]'
	touch $@

install: system-deps $(VENV)/.installed

install-test: system-deps $(VENV)/.installed-test

## system-deps: Debian packages for Qt/OpenGL tests under Xvfb (only when run as root)
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=""; for p in $(SYSTEM_PACKAGES); do \
			dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	else echo "not root: skipping Debian packages (GL tests need: $(SYSTEM_PACKAGES))"; fi

clean-venv:
	rm -rf $(VENV)
