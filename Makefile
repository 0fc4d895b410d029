# Thin wrapper over Meson/Ninja. The README's two commands are `make demo`
# and `make test`; both install what is missing first (scripts/install-deps.sh).
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON ?= meson
NINJA ?= ninja

.PHONY: all deps demo test test-fast test-asan bench clean

# The tool is left at $(BUILD)/tinyq (SPEC §5), a link to where Meson builds it.
all: $(BUILD)/build.ninja
	$(NINJA) -C $(BUILD)
	@ln -sfn tools/tinyq/tinyq $(BUILD)/tinyq

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

deps:
	@scripts/install-deps.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD)/tinyq

# Every test, in an optimised build and again under AddressSanitizer +
# UndefinedBehaviorSanitizer.
test: deps
	$(MAKE) all
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes 2
	$(MAKE) test-asan

test-fast: all
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes 2

test-asan:
	@[ -f $(ASAN_BUILD)/build.ninja ] || $(MESON) setup $(ASAN_BUILD) \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Doptimization=1
	$(NINJA) -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(MESON) test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 --no-suite slow

bench: deps all
	bench/run.sh $(BUILD)/tinyq

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
