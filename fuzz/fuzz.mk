# Fuzzing the management-link decoder with libFuzzer (clang).
#
#   make fuzz                 build and fuzz for FUZZ_TIME seconds (60)
#   build/fuzz/fuzz_wire      the target; tests/cli/test_fuzz_wire.sh runs it
#                             briefly inside `make test` (via TEST_DEPS)
#   build/fuzz/wire_seedgen   writes valid frames of every type as seeds
#
# The accounting sources are compiled straight into the target with clang,
# with the same include paths and -DFS_DEBUG=1 as the sanitised build, so the
# decoder's own asserts (wire_decoder_check) run under the fuzzer. -Werror is
# dropped here only: the gcc builds already enforce it, and a new clang
# warning must not break fuzzing.

FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_CFLAGS := -std=c11 -g -O1 $(filter-out -Werror,$(WARN)) $(INC) \
	-DFS_DEBUG=1 -D_GNU_SOURCE -fno-omit-frame-pointer
FUZZ_LIB_SRCS := $(sort $(wildcard accounting/*.c)) $(HOST_GLUE)
FUZZ_HDRS := $(wildcard accounting/*.h include/*.h hypervisor/include/public/*.h)

$(B)/fuzz/fuzz_wire: fuzz/fuzz_wire.c $(FUZZ_LIB_SRCS) $(FUZZ_HDRS) fuzz/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ fuzz/fuzz_wire.c $(FUZZ_LIB_SRCS)

$(B)/fuzz/wire_seedgen: fuzz/fuzz_wire.c $(FUZZ_LIB_SRCS) $(FUZZ_HDRS) fuzz/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_SEEDGEN -fsanitize=address,undefined \
		-o $@ fuzz/fuzz_wire.c $(FUZZ_LIB_SRCS)

.PHONY: fuzz
fuzz: $(B)/fuzz/fuzz_wire $(B)/fuzz/wire_seedgen
	@mkdir -p $(B)/fuzz/corpus/wire $(B)/fuzz/seeds/wire
	$(B)/fuzz/wire_seedgen $(B)/fuzz/seeds/wire
	$(B)/fuzz/fuzz_wire -max_total_time=$(FUZZ_TIME) -max_len=40000 \
		-print_final_stats=1 -artifact_prefix=$(B)/fuzz/ \
		$(B)/fuzz/corpus/wire $(B)/fuzz/seeds/wire

TEST_DEPS += $(B)/fuzz/fuzz_wire $(B)/fuzz/wire_seedgen
