# fsconfig: the configuration file reader (ini.c) and what it emits
# (emit.c). hvboot links the same objects, so both tools read a config the
# same way.
FSCONFIG_LIB_SRCS := tools/fsconfig/ini.c tools/fsconfig/emit.c \
	tools/fsconfig/exepath.c
FSCONFIG_LIB_OBJS := $(FSCONFIG_LIB_SRCS:%.c=$(B)/opt/%.o)

$(B)/bin/fsconfig: $(B)/opt/tools/fsconfig/main.o $(FSCONFIG_LIB_OBJS) \
		$(B)/opt/libportable.a
	@mkdir -p $(@D)
	$(CC) -o $@ $^

ALL_TARGETS += $(B)/bin/fsconfig
TEST_DEPS += $(B)/bin/fsconfig
