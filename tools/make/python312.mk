# Shared by the SAM makefile builds (layers/shared/Makefile, functions/Makefile).
# python3.12 (the Lambda runtime's version) byte-compiles what ships: SAM zips entries
# dated 1980, which voids timestamp-checked .pyc, so they are unchecked-hash .pyc (without
# valid .pyc, imports run about 2.5x slower on a cold start).
PYTHON312 ?= $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c '' 2>/dev/null && echo python3.12 || ls $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -1)
COMPILE = $(PYTHON312) -m compileall -q -j 0 --invalidation-mode unchecked-hash

require-python312:
	@test -n "$(PYTHON312)" || { echo "python3.12 is needed to byte-compile for Lambda"; exit 1; }
.PHONY: require-python312
