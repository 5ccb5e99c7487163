# Two commands are the whole set-up: `make consolidate` and `make test`.
# Both create the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

YEAR ?= 2026
INPUT ?= samples/$(YEAR)
OUTPUT ?= output
REGISTRY ?= registry/units.csv
PHASE ?= 2023-2025

.PHONY: consolidate review validate templates test lint typecheck bench samples docs bytecode clean help

help:
	@echo "make consolidate   tổng hợp báo cáo (YEAR=$(YEAR) INPUT=$(INPUT) OUTPUT=$(OUTPUT))"
	@echo "make review        báo cáo sơ kết/tổng kết giai đoạn (PHASE=$(PHASE))"
	@echo "make templates     tạo biểu mẫu trống vào input_templates/"
	@echo "make test          chạy bộ kiểm thử"
	@echo "make bench         đo tốc độ"
	@echo "make docs          tạo lại hình minh họa của hướng dẫn (docs/images/)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Our own modules' bytecode, written once: where PYTHONDONTWRITEBYTECODE is set (as on the
# machines the tests and the benchmark run on) Python would compile pipeline/ anew at every
# start, a tenth of a second of each run. A stale file is only recompiled in memory.
bytecode: $(STAMP)
	@$(PY) -m compileall -q pipeline

# The bundled samples are a December's mail up to the 12th. Run on them, the job is made as on
# the 15th (SOURCE_DATE_EPOCH, see cli.run_date) whatever today is, so that it shows what a run
# after the last mail shows, late units among them, instead of warning on every mail "not yet
# arrived". A department's own folder (INPUT=...) is always run as of today.
SAMPLE_RUN_DATE ?= $(YEAR)-12-15
ifeq ($(INPUT),samples/$(YEAR))
AS_OF = SOURCE_DATE_EPOCH=$$($(PY) -c 'import datetime as d; print(int(d.datetime.fromisoformat("$(SAMPLE_RUN_DATE)T12:00:00+07:00").timestamp()))')
endif

consolidate: $(STAMP) bytecode
	$(AS_OF) $(PY) -m pipeline consolidate --year $(YEAR) --input $(INPUT) --output $(OUTPUT) --registry $(REGISTRY)

# The phase review (sơ kết 2023-2025; PHASE=2023-2030 for tổng kết): years not yet
# consolidated are consolidated first from samples/<year>.
review: $(STAMP) bytecode
	$(AS_OF) $(PY) -m pipeline consolidate --phase $(PHASE) --output $(OUTPUT) --registry $(REGISTRY)

validate: $(STAMP) bytecode
	$(AS_OF) $(PY) -m pipeline validate $(INPUT) --year $(YEAR) --output $(OUTPUT) --registry $(REGISTRY)

templates: $(STAMP) bytecode
	$(PY) -m pipeline templates --year $(YEAR) --output input_templates

samples: $(STAMP)
	$(PY) -m pipeline samples --year $(YEAR) --output samples/$(YEAR)

test: $(STAMP)
	$(PY) -m ruff check pipeline tests
	$(PY) -m ruff format --check pipeline tests
	$(PY) -m mypy
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check pipeline tests
	$(PY) -m ruff format --check pipeline tests

typecheck: $(STAMP)
	$(PY) -m mypy

bench: $(STAMP) bytecode
	$(PY) -m pipeline.bench

# Pictures of the user guides (docs/images/) from the real outputs; needs soffice, pdftoppm.
docs: $(STAMP)
	$(PY) -m pipeline.docs_images

clean:
	rm -rf $(VENV) output/*/
