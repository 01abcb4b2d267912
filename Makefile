# corun: thin wrapper over CMake. The README's two commands:
#   make demo   build and run the examples, print the measured switch cost
#   make test   build and run the whole test suite: plain, ucontext backend,
#               ASan+UBSan, TSan (threaded tests) and Valgrind memcheck
# Also: make (build), make bench, make install PREFIX=/dir (ARCH=aarch64 or
# ARCH=riscv64 installs a cross-built library), make clean.
BUILD  ?= build
PREFIX ?= /usr/local
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE  ?= cmake

.PHONY: all build demo test bench install clean deps

all: build

deps:
	@sh scripts/deps.sh core

$(BUILD)/release/CMakeCache.txt:
	@sh scripts/deps.sh core
	$(CMAKE) -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/release/CMakeCache.txt
	$(CMAKE) --build $(BUILD)/release -j$(JOBS)

demo: build
	sh examples/demo.sh $(BUILD)/release/examples $(CURDIR)

test:
	@sh scripts/deps.sh test
	sh scripts/test.sh $(BUILD)

bench:
	@sh scripts/deps.sh bench
	$(CMAKE) -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCORUN_BUILD_BENCH=ON -DCORUN_BUILD_TESTS=OFF -DCORUN_BUILD_EXAMPLES=OFF
	$(CMAKE) --build $(BUILD)/bench -j$(JOBS)
	sh bench/run.sh $(BUILD)/bench

ifeq ($(ARCH),)
install: build
	$(CMAKE) --install $(BUILD)/release --prefix $(PREFIX)
else
install:
	@test -f cmake/toolchain-$(ARCH).cmake || \
	  { echo "ARCH must be aarch64 or riscv64"; exit 2; }
	@sh scripts/deps.sh cross
	$(CMAKE) -S . -B $(BUILD)/$(ARCH) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/toolchain-$(ARCH).cmake \
	  -DCORUN_BUILD_TESTS=OFF -DCORUN_BUILD_EXAMPLES=OFF
	$(CMAKE) --build $(BUILD)/$(ARCH) -j$(JOBS)
	$(CMAKE) --install $(BUILD)/$(ARCH) --prefix $(PREFIX)
endif

clean:
	rm -rf $(BUILD)
