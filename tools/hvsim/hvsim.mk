# hvsim: the scheduler simulator. The engine (scenario + sim) is also linked
# into the unit tests (sanitised) and the benchmarks (optimised).
SIM_SRCS := tools/hvsim/scenario.c tools/hvsim/sim.c tools/hvsim/sim_io.c
SIM_SAN_OBJS := $(SIM_SRCS:%.c=$(B)/san/%.o)
SIM_OPT_OBJS := $(SIM_SRCS:%.c=$(B)/opt/%.o)

include tools/link/link.mk

$(B)/bin/hvsim: $(B)/opt/tools/hvsim/main.o $(B)/opt/tools/hvsim/serve.o \
		$(B)/opt/tools/hvsim/serve_cmd.o \
		$(SIM_OPT_OBJS) $(LINK_OPT_OBJS) $(B)/opt/libportable.a
	@mkdir -p $(@D)
	$(CC) -o $@ $^

ALL_TARGETS += $(B)/bin/hvsim

.PHONY: run-sim
run-sim: $(B)/bin/hvsim
	@echo "== hvsim: config/demo.scenario (BVT scheduler, 10 s simulated) =="
	@$(B)/bin/hvsim config/demo.scenario
