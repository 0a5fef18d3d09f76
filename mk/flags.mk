# Compiler flag sets and the generic compile rules for the three builds.
#
#   free  freestanding, as linked into the hypervisor: no libc headers (only
#         the compiler's own stdint/stddef/stdbool via -nostdinc), no red zone,
#         no SSE (interrupt handlers must not clobber vector state), no heap.
#   san   hosted with ASan + UBSan and FS_DEBUG (every *_check() runs under
#         assert): the unit and property tests link this.
#   opt   hosted, optimised, no sanitizers: hvsim and the benchmarks.

CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wundef \
        -Wvla -Wformat=2 -Wimplicit-fallthrough

INC := -I. -Iinclude -Ihypervisor/include/public

GCC_INC := $(shell $(CC) -print-file-name=include)

FREE_CFLAGS := -std=c11 -O2 -g $(WARN) $(INC) -ffreestanding -nostdlib \
        -fno-builtin -mno-red-zone -mgeneral-regs-only -nostdinc \
        -isystem $(GCC_INC) -fno-stack-protector -fno-pic -fno-pie \
        -fno-asynchronous-unwind-tables -mcmodel=kernel

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
        -fno-omit-frame-pointer
SAN_CFLAGS := -std=c11 -O1 -g $(WARN) $(INC) $(SAN_FLAGS) -DFS_DEBUG=1 \
        -D_GNU_SOURCE
OPT_CFLAGS := -std=c11 -O2 -g $(WARN) $(INC) -D_GNU_SOURCE

DEPFLAGS = -MMD -MP

$(B)/free/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(FREE_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/san/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(SAN_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/opt/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(OPT_CFLAGS) $(DEPFLAGS) -c $< -o $@

# Portable sources (sched/, accounting/) register themselves here.
PORTABLE_SRCS :=
ALL_TARGETS :=
TEST_BINS :=
TEST_SCRIPTS :=
TEST_DEPS :=
BENCH_TARGETS :=
